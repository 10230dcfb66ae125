"""Deliveries counted in plain Python expose exactly what prometheus_client's Counter and Histogram of the
same names expose for the same deliveries (but their `_created` samples), in both exposition formats."""

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics

from pixelpet.telemetry.deliveries import DELIVERED, DELIVERED_HELP, LAG, LAG_HELP, DeliveryMetrics
from pixelpet.telemetry.metrics import Metrics

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0)

# Lags on and around every bound (a bucket counts what is at most its bound), beyond the last, and none.
lags = st.one_of(
    st.none(),
    st.sampled_from(BUCKETS),
    st.floats(min_value=0.0, max_value=10.0, allow_nan=False),
)
deliveries = st.lists(st.tuples(st.sampled_from(["initial", "change", "time", "resync"]), lags), max_size=60)


def _exposed(registry: CollectorRegistry) -> tuple[list[str], list[str]]:
    def without_created(text: bytes) -> list[str]:
        return [line for line in text.decode().splitlines() if "_created" not in line]

    return without_created(generate_latest(registry)), without_created(generate_openmetrics(registry))  # type: ignore[no-untyped-call]


@given(deliveries)
def test_the_series_are_those_of_a_counter_and_a_histogram(shown: list[tuple[str, float | None]]) -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    counted = DeliveryMetrics(BUCKETS)
    ours.register(counted)
    counter = Counter(DELIVERED, DELIVERED_HELP, ["cause"], registry=theirs)
    histogram = Histogram(LAG, LAG_HELP, buckets=BUCKETS, registry=theirs)
    for cause, lag in shown:
        counted.shown(cause, lag)
        counter.labels(cause).inc()
        if lag is not None:
            histogram.observe(lag)
    assert _exposed(ours) == _exposed(theirs)


def test_the_service_counts_each_update_shown() -> None:
    metrics = Metrics(version="test", environment="test")
    for cause, lag in (("change", 0.01), ("change", 3.0), ("time", None), ("initial", None)):
        metrics.update_shown(cause, lag)
    sample = metrics.registry.get_sample_value
    assert sample("pixelpet_subscription_events_delivered_total", {"cause": "change"}) == 2
    assert sample("pixelpet_subscription_events_delivered_total", {"cause": "time"}) == 1
    assert sample("pixelpet_subscription_delivery_lag_seconds_count") == 2
    assert sample("pixelpet_subscription_delivery_lag_seconds_bucket", {"le": "2.0"}) == 1
