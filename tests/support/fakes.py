"""Listeners that record what the core reports (pixelpet/pets/events.py), for unit tests."""

from collections import Counter

from pixelpet.pets.events import RestartReason


class RecordedEvents:
    """Implements PetEvents and LiveEvents by counting."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def action_finished(self, action: str, outcome: str) -> None:
        self.counts[f"{action}:{outcome}"] += 1

    def pet_created(self) -> None:
        self.counts["created"] += 1

    def pet_deleted(self) -> None:
        self.counts["deleted"] += 1

    def subscription_opened(self) -> None:
        self.counts["opened"] += 1

    def subscription_closed(self) -> None:
        self.counts["closed"] += 1

    def update_shown(self, cause: str, lag_s: float | None) -> None:
        self.counts[f"shown:{cause}"] += 1

    def change_stream_restarted(self, reason: RestartReason) -> None:
        self.counts[f"restarted:{reason}"] += 1

    def change_event_skipped(self) -> None:
        self.counts["skipped"] += 1
