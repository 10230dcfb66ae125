"""All configuration, from ``PIXELPET_*`` environment variables (nested groups use ``__``).

Tests build ``Settings(...)`` with explicit values and never touch ``os.environ``.
"""

from enum import StrEnum
from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_SECRET = "pixelpet-development-secret-do-not-use-in-production"  # noqa: S105 - refused in production


MIN_ADMIN_TOKEN_LENGTH = 16


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class MongoSettings(BaseModel):
    """Client tuning. Fail fast: 2 s, not PyMongo's 30 s, so an outage is an error, not a hang."""

    database: str = "pixelpet"
    app_name: str = "pixelpet"
    server_selection_timeout_ms: int = Field(2000, gt=0)
    connect_timeout_ms: int = Field(2000, gt=0)
    # Whole-operation budget (CSOT), retries included.
    timeout_ms: int = Field(2000, gt=0)
    max_pool_size: int = Field(50, gt=0)
    min_pool_size: int = Field(0, ge=0)
    max_idle_time_ms: int = Field(60_000, ge=0)
    # How often the driver checks each server. After a stepdown error the retry waits for the next check;
    # PyMongo's 10 s would outlast the 2 s budget, so a stepdown became UNAVAILABLE instead of a retry.
    heartbeat_frequency_ms: int = Field(1000, ge=500)


class DevDatabaseSettings(BaseModel):
    """The embedded SecantusDB started when no MongoDB URI is set (development only)."""

    data_dir: Path = Path(".pixelpet/devdb")
    port: int = Field(27117, gt=0, lt=65536)
    startup_timeout_s: float = Field(30.0, gt=0)


class AuthSettings(BaseModel):
    """JWT verification. Development signs HS256 with a shared secret; production verifies keys."""

    dev_secret: SecretStr = SecretStr(DEVELOPMENT_SECRET)
    algorithms: list[str] = ["HS256"]
    jwks_url: str | None = None
    public_key_pem: SecretStr | None = None
    issuer: str | None = None
    audience: str | None = None
    leeway_s: float = Field(30.0, ge=0)
    # A JWKS fetch waits this long (PyJWT's default is 30 s, behind which every new token would queue).
    jwks_timeout_s: float = Field(2.0, gt=0)
    # An unknown kid (a rotated key) refetches the key set at most this often: a rotation is picked up within
    # it, and a flood of made-up kids costs the identity provider one fetch a period (PyJWT's default: 30 s).
    jwks_refresh_cooldown_s: float = Field(5.0, ge=0)


class TelemetrySettings(BaseModel):
    """Tracing. Whether and where spans are exported comes from the standard OTEL_* variables
    (pixelpet/telemetry/tracing.py): OTEL_EXPORTER_OTLP_ENDPOINT alone turns OTLP export on."""

    service_name: str = "pixelpet"
    # Share of new traces to keep; a caller's sampling decision (traceparent) always wins.
    sample_ratio: float = Field(1.0, ge=0.0, le=1.0)


class LifecycleSettings(BaseModel):
    """Graceful shutdown, as podinfo does it."""

    # After SIGTERM, keep serving while readiness fails, so load balancers stop routing here first.
    drain_delay_s: float = Field(3.0, ge=0)
    # Then stop accepting and give in-flight requests this long to finish.
    shutdown_grace_s: int = Field(5, ge=1)


class SubscriptionSettings(BaseModel):
    """Live subscriptions over graphql-transport-ws."""

    max_per_connection: int = Field(10, gt=0)
    max_per_process: int = Field(5000, gt=0)
    # Per player and per replica: two tabs watching all of a player's 50 pets fit.
    max_per_owner: int = Field(100, gt=0)
    # Time-based snapshots are sent at most this often per subscription (changes are sent at once).
    min_snapshot_interval_s: float = Field(1.0, ge=0)
    # A connection that cannot take a message for this long (its client stopped reading) is closed (4008).
    stall_timeout_s: float = Field(10.0, gt=0)
    # The reference graphql-ws server waits 3 s for connection_init; strawberry's default is 60 s.
    connection_init_timeout_s: float = Field(3.0, gt=0)
    # subscribe messages (any operation sent over the socket) per connection: a page opening its pets'
    # subscriptions at once fits the burst; a client looping subscribe/complete is slowed to the rate.
    subscribes_per_second: float = Field(5.0, gt=0)
    subscribe_burst: int = Field(30, gt=0)
    # WebSocket-level keepalive (uvicorn): a peer that does not answer a ping in time is dropped. A close
    # waits as long for the peer's answer; a peer that has not even read it by then is cut off (server.py).
    ping_interval_s: float = Field(20.0, gt=0)
    ping_timeout_s: float = Field(20.0, gt=0)
    # The change stream is unhealthy if it has not heard from the database for this long.
    change_stream_stale_after_s: float = Field(10.0, gt=0)


class LimitSettings(BaseModel):
    """Abuse limits."""

    max_pets_per_owner: int = Field(50, gt=0)
    max_page_size: int = Field(100, gt=0)
    # Larger request bodies get 413 before anything parses them, and larger WebSocket messages close the
    # connection with 1009; every document we know is under 4 KiB.
    max_body_bytes: int = Field(65_536, gt=0)
    max_query_depth: int = Field(8, gt=0)
    max_aliases: int = Field(15, gt=0)
    # The parser stops after this many tokens; the largest document we know (the README's) has about 60.
    max_tokens: int = Field(1000, gt=0)
    # Field selections per document, checked before validation (its overlap check is quadratic in them).
    max_fields: int = Field(200, gt=0)
    # Schema introspection and "Did you mean ...?" hints: unset, on in development and off in production
    # (the schema is published as schema.graphql; hints would map it for a stranger).
    introspection: bool | None = None
    field_suggestions: bool | None = None
    # Per-owner token bucket for mutations: a sustained rate with a burst allowance.
    mutations_per_second: float = Field(10.0, gt=0)
    mutation_burst: int = Field(30, gt=0)
    max_action_retries: int = Field(10, gt=0)
    # Per-owner token bucket for queries (a page polling every pet once a second fits).
    queries_per_second: float = Field(50.0, gt=0)
    query_burst: int = Field(100, gt=0)
    # Per client address: failed or missing credentials (each may cost a signature check or a JWKS fetch).
    # Behind a proxy, the address comes from X-Forwarded-For when the proxy is listed in
    # PIXELPET_FORWARDED_ALLOW_IPS.
    unauthenticated_per_second: float = Field(5.0, gt=0)
    unauthenticated_burst: int = Field(20, gt=0)
    # Root fields per operation, and a cost: every field selected counts once per object it can be
    # resolved on, lists counting `first` (or the most a page can hold when `first` is a variable).
    # A full page of every pet field costs about 1,900; the README's documents cost under 250.
    max_root_fields: int = Field(10, gt=0)
    max_cost: int = Field(5000, gt=0)
    # One operation's whole budget, database calls included (their own timeout is mongo.timeout_ms).
    operation_timeout_s: float = Field(5.0, gt=0)
    # Open connections (HTTP and WebSocket) per process; past it, new requests get 503 (uvicorn's own
    # limit_concurrency). Above subscriptions.max_per_process, so subscribers reach their typed error.
    max_connections: int = Field(10_000, gt=0)


class CorsSettings(BaseModel):
    """Which browser pages on other origins may call the API, over HTTP and WebSocket alike.

    Same-origin pages (the /play page, GraphiQL) always may; nothing else is allowed by default.
    """

    # Exact origins such as "https://play.example"; "*" allows any (then credentials are never allowed).
    allowed_origins: list[str] = []
    allowed_methods: list[str] = ["GET", "POST"]
    allowed_headers: list[str] = ["authorization", "content-type"]
    # How long a browser may cache a preflight answer.
    max_age_s: int = Field(600, ge=0)


class Settings(BaseSettings):
    """The service's configuration."""

    model_config = SettingsConfigDict(
        env_prefix="PIXELPET_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    environment: Environment = Environment.DEVELOPMENT
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, lt=65536)
    # /metrics on its own port (then not on the service's), so it is never exposed with the API.
    metrics_port: int | None = Field(None, ge=0, lt=65536)
    # Proxies whose X-Forwarded-For names the client (uvicorn's forwarded_allow_ips); none by default.
    forwarded_allow_ips: list[str] = []
    mongodb_uri: SecretStr | None = None
    # The /play page (pixelpet/play): unset, on in development and off in production.
    play: bool | None = None
    # The bearer token of the admin endpoints (/admin/drain, /admin/undrain: `pixelpet drain`); unset, they
    # are off (404). Give each environment a long random one.
    admin_token: SecretStr | None = None
    mongo: MongoSettings = MongoSettings()
    devdb: DevDatabaseSettings = DevDatabaseSettings()
    auth: AuthSettings = AuthSettings()
    limits: LimitSettings = LimitSettings()
    subscriptions: SubscriptionSettings = SubscriptionSettings()
    cors: CorsSettings = CorsSettings()
    telemetry: TelemetrySettings = TelemetrySettings()
    lifecycle: LifecycleSettings = LifecycleSettings()
    # INFO: one line per request and lifecycle events; see docs/observability.md.
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @property
    def introspection(self) -> bool:
        return self._default_in_development(self.limits.introspection)

    @property
    def field_suggestions(self) -> bool:
        return self._default_in_development(self.limits.field_suggestions)

    @property
    def play_page(self) -> bool:
        return self._default_in_development(self.play)

    def _default_in_development(self, choice: bool | None) -> bool:
        return self.environment is Environment.DEVELOPMENT if choice is None else choice

    @field_validator("admin_token", mode="before")
    @classmethod
    def _admin_token_long_or_unset(cls, value: object) -> object:
        # Empty means unset (an empty variable in a manifest must not open the admin endpoints to anyone).
        secret = value.get_secret_value() if isinstance(value, SecretStr) else value
        if secret in (None, ""):
            return None
        if isinstance(secret, str) and len(secret) < MIN_ADMIN_TOKEN_LENGTH:
            raise ValueError(f"the admin token must be at least {MIN_ADMIN_TOKEN_LENGTH} characters")
        return value

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Self:
        if self.environment is not Environment.PRODUCTION:
            return self
        problems = []
        if self.mongodb_uri is None:
            problems.append("PIXELPET_MONGODB_URI is required (the embedded database is for development)")
        if self.auth.jwks_url is None and self.auth.public_key_pem is None:
            problems.append("set PIXELPET_AUTH__JWKS_URL or PIXELPET_AUTH__PUBLIC_KEY_PEM to verify tokens")
        # Without them, a token the identity provider issued for another service works here too.
        missing = [name for name in ("issuer", "audience") if getattr(self.auth, name) is None]
        if missing:
            names = " and ".join(f"PIXELPET_AUTH__{name.upper()}" for name in missing)
            problems.append(f"set {names}: tokens meant for other services must not work here")
        shared_secret = [name for name in self.auth.algorithms if name.upper().startswith("HS")]
        if shared_secret:
            problems.append(
                f"{', '.join(shared_secret)} verifies with a shared secret such as the development one; "
                'set PIXELPET_AUTH__ALGORITHMS to asymmetric algorithms such as ["RS256","ES256"]'
            )
        if problems:
            raise ValueError("refusing to start in production: " + "; ".join(problems))
        return self
