"""Deliveries to subscribers by cause, and their lag: counted in plain Python, exposed when scraped.

They are counted for every subscriber of every update, 10,000 times for one change of a pet that many watch,
in one pass of the event loop. prometheus_client's counter and histogram take a lock per increment and
search the buckets in Python: about 2.5 µs a delivery, a tenth of that pass. Here a delivery is a dictionary
increment and a bisection; the series are the same as a ``Counter`` and a ``Histogram`` of these names
would expose (without their ``_created`` samples, which nothing reads). One event loop counts; a scrape from
another thread (``metrics_port``) reads a copy.
"""

from bisect import bisect_left
from collections.abc import Iterator, Sequence

from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

DELIVERED = "pixelpet_subscription_events_delivered"  # a counter: exposed with its `_total` suffix
DELIVERED_HELP = "Pet states handed to subscribers, by cause (initial, change, time, resync)."
LAG = "pixelpet_subscription_delivery_lag_seconds"
LAG_HELP = "From a change's commit to its hand-over to the subscriber."


class DeliveryMetrics(Collector):
    def __init__(self, buckets: Sequence[float]) -> None:
        self._bounds = sorted(buckets)
        self._by_cause: dict[str, int] = {}  # a few causes (above): bounded
        self._lag_counts = [0] * (len(self._bounds) + 1)  # per bucket, not cumulative; the last is +Inf
        self._lag_sum = 0.0

    def shown(self, cause: str, lag_s: float | None) -> None:
        """One update handed to one subscriber; ``lag_s`` from its commit, if the store dated it."""
        self._by_cause[cause] = self._by_cause.get(cause, 0) + 1
        if lag_s is not None:
            # A histogram's bucket counts observations at most its bound: the first bound >= lag_s.
            self._lag_counts[bisect_left(self._bounds, lag_s)] += 1
            self._lag_sum += lag_s

    def collect(self) -> Iterator[Metric]:
        delivered = CounterMetricFamily(DELIVERED, DELIVERED_HELP, labels=["cause"])
        for cause, count in dict(self._by_cause).items():
            delivered.add_metric([cause], count)
        yield delivered
        counts, total = list(self._lag_counts), self._lag_sum
        lag = HistogramMetricFamily(LAG, LAG_HELP)
        cumulative = 0
        buckets = []
        for bound, count in zip([*self._bounds, float("inf")], counts, strict=True):
            cumulative += count
            buckets.append((floatToGoString(bound), cumulative))  # type: ignore[no-untyped-call]  # upstream
        lag.add_metric([], buckets, total)
        yield lag
