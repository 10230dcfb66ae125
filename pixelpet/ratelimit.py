"""Per-key token buckets, in process memory.

Each replica limits on its own: with N replicas an owner can reach N times the rate. That is enough
to stop one runaway client from monopolising a replica; a shared limit would need shared state.
"""

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from pixelpet.clock import Clock
from pixelpet.errors import RateLimited


@dataclass(slots=True)
class _Bucket:
    tokens: float
    refilled_at: datetime


class TokenBucketLimiter:
    """Allows ``burst`` requests at once and ``rate_per_second`` sustained, per key."""

    def __init__(self, *, rate_per_second: float, burst: int, clock: Clock, max_keys: int = 100_000) -> None:
        self._rate = rate_per_second
        self._burst = float(burst)
        self._clock = clock
        # Least recently used keys are forgotten first, so memory stays bounded under many owners.
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._max_keys = max_keys

    def acquire(self, key: str) -> None:
        """Take one token for ``key`` or raise ``RateLimited`` with the wait until the next one."""
        now = self._clock.now()
        bucket = self._buckets.pop(key, None) or _Bucket(self._burst, now)
        elapsed = max(0.0, (now - bucket.refilled_at).total_seconds())
        bucket.tokens = min(self._burst, bucket.tokens + elapsed * self._rate)
        bucket.refilled_at = now
        self._buckets[key] = bucket
        if len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        if bucket.tokens < 1.0:
            raise RateLimited(
                "Too many requests; slow down.", retry_after_seconds=(1.0 - bucket.tokens) / self._rate
            )
        bucket.tokens -= 1.0
