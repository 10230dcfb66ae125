"""PyMongo monitoring listeners that feed the MongoDB metrics.

PyMongo calls listeners synchronously on the event loop, so each does a dictionary lookup and a
metric update and nothing else.
"""

from pymongo import monitoring

from pixelpet.telemetry.metrics import Metrics


class CommandMetrics(monitoring.CommandListener):
    """Duration and failures per command name (a small fixed set from the driver)."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        return

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self._metrics.mongo_command_finished(event.command_name, event.duration_micros / 1e6)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self._metrics.mongo_command_finished(event.command_name, event.duration_micros / 1e6)
        self._metrics.mongo_command_errors.labels(event.command_name).inc()


class PoolMetrics(monitoring.ConnectionPoolListener):
    """Checkout wait and connections in use: the pool's saturation signals."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def connection_checked_out(self, event: monitoring.ConnectionCheckedOutEvent) -> None:
        self._metrics.mongo_pool_checkout_wait.observe(event.duration or 0.0)
        self._metrics.mongo_connections_in_use.inc()

    def connection_checked_in(self, event: monitoring.ConnectionCheckedInEvent) -> None:
        self._metrics.mongo_connections_in_use.dec()

    def connection_check_out_failed(self, event: monitoring.ConnectionCheckOutFailedEvent) -> None:
        self._metrics.mongo_pool_checkout_wait.observe(event.duration or 0.0)
        self._metrics.mongo_pool_checkout_failures.labels(event.reason).inc()

    # The rest of the pool's lifecycle needs no metric; the listener interface requires the methods.
    def pool_created(self, event: monitoring.PoolCreatedEvent) -> None:
        return

    def pool_ready(self, event: monitoring.PoolReadyEvent) -> None:
        return

    def pool_cleared(self, event: monitoring.PoolClearedEvent) -> None:
        return

    def pool_closed(self, event: monitoring.PoolClosedEvent) -> None:
        return

    def connection_created(self, event: monitoring.ConnectionCreatedEvent) -> None:
        return

    def connection_ready(self, event: monitoring.ConnectionReadyEvent) -> None:
        return

    def connection_closed(self, event: monitoring.ConnectionClosedEvent) -> None:
        return

    def connection_check_out_started(self, event: monitoring.ConnectionCheckOutStartedEvent) -> None:
        return


def listeners(metrics: Metrics) -> list[monitoring._EventListener]:
    return [CommandMetrics(metrics), PoolMetrics(metrics)]
