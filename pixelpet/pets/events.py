"""What pets code reports, as protocols: the telemetry layer implements them (pixelpet/telemetry/metrics.py).

Pets code decides the outcomes and knows nothing of Prometheus; tests may pass anything that listens.
"""

from typing import Literal, Protocol

# Why the change stream was reopened: lost history (resyncs every subscriber), a driver error, a bug.
RestartReason = Literal["history_lost", "error", "unexpected"]


class PetEvents(Protocol):
    """Business outcomes, reported where they are decided."""

    def action_finished(self, action: str, outcome: str) -> None: ...

    def pet_created(self) -> None: ...

    def pet_deleted(self) -> None: ...


class LiveEvents(Protocol):
    """What the live path does: subscriptions coming and going, updates shown, the change stream's health."""

    def subscription_opened(self) -> None: ...

    def subscription_closed(self) -> None: ...

    def update_shown(self, cause: str, lag_s: float | None) -> None:
        """A subscriber was shown a state (``cause``: initial, change, time, resync); ``lag_s`` is how long
        after its commit, for changes the server dated."""
        ...

    def change_stream_restarted(self, reason: RestartReason) -> None: ...

    def change_event_skipped(self) -> None:
        """An event that could not be read (a document that fails validation) was logged and skipped."""
        ...
