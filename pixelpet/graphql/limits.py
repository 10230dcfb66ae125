"""Every limit a client can run into at the API edge, and the one place that builds each refusal.

A refusal that waiting lifts is ``RATE_LIMITED`` with ``retryAfterSeconds`` (how long until it is lifted);
a cap that waiting cannot lift (a connection or a player at their subscription cap: only completing a
subscription frees a place) is ``SUBSCRIPTION_LIMIT_REACHED``, so a client does not retry in vain.
Decision 14 lists the limits in the order a request meets them. Each replica limits on its own.
"""

from graphql import OperationType

from pixelpet.clock import Clock
from pixelpet.errors import RateLimited, SubscriptionLimitReached
from pixelpet.graphql.ratelimit import TokenBucket, TokenBucketLimiter
from pixelpet.settings import LimitSettings, SubscriptionSettings

# A replica full of subscriptions frees places as others leave; a reconnect may also reach another replica.
PROCESS_FULL_RETRY_AFTER_S = 5.0


class SubscriptionCounter:
    """The subscriptions open on one connection (its context holds it)."""

    __slots__ = ("open",)

    def __init__(self) -> None:
        self.open = 0


class SubscriptionTicket:
    """One subscription's place under the caps; ``release`` gives it back (safe to call twice)."""

    __slots__ = ("_connection", "_limits", "_owner")

    def __init__(self, limits: "Limits", owner: str, connection: SubscriptionCounter) -> None:
        self._limits: Limits | None = limits
        self._owner = owner
        self._connection = connection

    def release(self) -> None:
        if self._limits is not None:
            self._limits._release(self._owner, self._connection)
            self._limits = None


class Limits:
    def __init__(self, limits: LimitSettings, subscriptions: SubscriptionSettings, *, clock: Clock) -> None:
        self._clock = clock
        self._subscriptions = subscriptions
        self.queries = TokenBucketLimiter(
            rate_per_second=limits.queries_per_second, burst=limits.query_burst, clock=clock
        )
        self.mutations = TokenBucketLimiter(
            rate_per_second=limits.mutations_per_second, burst=limits.mutation_burst, clock=clock
        )
        # Failed or missing credentials, per client address: past the limit, tokens are not even checked.
        self.unauthenticated = TokenBucketLimiter(
            rate_per_second=limits.unauthenticated_per_second,
            burst=limits.unauthenticated_burst,
            clock=clock,
        )
        self._per_owner: dict[str, int] = {}
        self._open = 0

    def charge(self, operation: OperationType, owner: str) -> None:
        """Take one of ``owner``'s queries or mutations, or raise ``RateLimited``."""
        limiter = self.mutations if operation is OperationType.MUTATION else self.queries
        limiter.acquire(owner)

    def subscribe_messages(self) -> TokenBucket:
        """A connection's allowance of ``subscribe`` messages."""
        settings = self._subscriptions
        return TokenBucket(
            rate_per_second=settings.subscribes_per_second, burst=settings.subscribe_burst, clock=self._clock
        )

    def open_subscription(self, owner: str, connection: SubscriptionCounter) -> SubscriptionTicket:
        """A place for one more live subscription, or the refusal that says why there is none."""
        settings = self._subscriptions
        if self._open >= settings.max_per_process:
            raise RateLimited(
                "This server has too many live subscriptions; retry shortly.",
                retry_after_seconds=PROCESS_FULL_RETRY_AFTER_S,
            )
        if connection.open >= settings.max_per_connection:
            raise SubscriptionLimitReached(
                f"At most {settings.max_per_connection} subscriptions per connection; complete one first.",
                limit=settings.max_per_connection,
                scope="connection",
            )
        # One player cannot take every place of a process (per replica: see the settings).
        if self._per_owner.get(owner, 0) >= settings.max_per_owner:
            raise SubscriptionLimitReached(
                f"At most {settings.max_per_owner} live subscriptions per player; complete one first.",
                limit=settings.max_per_owner,
                scope="player",
            )
        connection.open += 1
        self._per_owner[owner] = self._per_owner.get(owner, 0) + 1
        self._open += 1
        return SubscriptionTicket(self, owner, connection)

    def _release(self, owner: str, connection: SubscriptionCounter) -> None:
        connection.open -= 1
        self._per_owner[owner] -= 1
        if not self._per_owner[owner]:
            del self._per_owner[owner]
        self._open -= 1
