"""Token buckets, in process memory: one per key, or one on its own (a WebSocket connection's).

Each replica limits on its own: with N replicas an owner can reach N times the rate. That is enough
to stop one runaway client from monopolising a replica; a shared limit would need shared state
(docs/operations/capacity.md).
"""

from collections import OrderedDict
from datetime import datetime

from pixelpet.clock import Clock
from pixelpet.errors import RateLimited

RATE_LIMITED_MESSAGE = "Too many requests; slow down."


class TokenBucket:
    """Allows ``burst`` requests at once and ``rate_per_second`` sustained."""

    __slots__ = ("_burst", "_clock", "_rate", "_refilled_at", "_tokens")

    def __init__(self, *, rate_per_second: float, burst: int, clock: Clock) -> None:
        self._rate = rate_per_second
        self._burst = float(burst)
        self._clock = clock
        self._tokens = self._burst
        self._refilled_at: datetime = clock.now()

    def check(self) -> None:
        """Raise ``RateLimited`` (with the wait until the next token) if no token is left; take none."""
        self._refill()
        if self._tokens < 1.0:
            raise RateLimited(RATE_LIMITED_MESSAGE, retry_after_seconds=(1.0 - self._tokens) / self._rate)

    def spend(self) -> None:
        """Take a token if one is left, without refusing (for costs counted after the fact)."""
        self._refill()
        self._tokens = max(0.0, self._tokens - 1.0)

    def acquire(self) -> None:
        """Take one token or raise ``RateLimited``."""
        self.check()
        self._tokens -= 1.0

    def _refill(self) -> None:
        now = self._clock.now()
        elapsed = max(0.0, (now - self._refilled_at).total_seconds())
        self._tokens = min(self._burst, self._tokens + elapsed * self._rate)
        self._refilled_at = now


class TokenBucketLimiter:
    """A ``TokenBucket`` per key (an owner, a client address)."""

    def __init__(self, *, rate_per_second: float, burst: int, clock: Clock, max_keys: int = 100_000) -> None:
        self._rate = rate_per_second
        self._burst = burst
        self._clock = clock
        # Least recently used keys are forgotten first, so memory stays bounded under many keys.
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()
        self._max_keys = max_keys

    def bucket(self, key: str) -> TokenBucket:
        bucket = self._buckets.pop(key, None) or TokenBucket(
            rate_per_second=self._rate, burst=self._burst, clock=self._clock
        )
        self._buckets[key] = bucket
        if len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        return bucket

    def acquire(self, key: str) -> None:
        """Take one token for ``key`` or raise ``RateLimited`` with the wait until the next one."""
        self.bucket(key).acquire()
