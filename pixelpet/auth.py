"""Bearer-token authentication: a JWT whose ``sub`` claim is the owner id.

Development signs and verifies HS256 with a shared secret, so a token can be minted locally.
Production verifies asymmetric signatures (RS256/ES256) with keys from a JWKS URL or a PEM.
"""

import asyncio
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt

from pixelpet.clock import Clock, SystemClock
from pixelpet.errors import Unauthenticated, Unavailable
from pixelpet.settings import AuthSettings

_REQUIRED_CLAIMS = ["sub", "exp"]
JWKS_UNAVAILABLE = "Tokens cannot be verified right now (the identity provider is not answering); retry soon."
_MAX_SUBJECT_LENGTH = 256
# Verified tokens are remembered until they expire: a client sends the same token on every request,
# and verifying its signature each time was 6% of a request's CPU.
_VERIFIED_CACHE_SIZE = 10_000


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a verified token speaks for, and until when (Unix time, leeway included)."""

    owner: str
    expires_at: float


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header, or raises Unauthenticated."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Send `Authorization: Bearer <token>`.")
    return token.strip()


class TokenVerifier:
    """Turns an ``Authorization`` header or a raw token into an ``Identity``, or raises Unauthenticated."""

    def __init__(self, settings: AuthSettings, *, clock: Clock | None = None) -> None:
        self._settings = settings
        # Wall-clock time, as the identity provider's `exp` is; tests pass a clock they move.
        self._clock = clock or SystemClock()
        # Keys are cached by kid (an unknown kid refetches the set); the set is refreshed every 5 minutes.
        self._jwks = (
            jwt.PyJWKClient(
                settings.jwks_url,
                cache_keys=True,
                timeout=settings.jwks_timeout_s,
                cooldown_duration=settings.jwks_refresh_cooldown_s,
            )
            if settings.jwks_url
            else None
        )
        if settings.public_key_pem is not None:
            self._static_key: Any = settings.public_key_pem.get_secret_value()
        else:
            self._static_key = settings.dev_secret.get_secret_value()
        self._verified: OrderedDict[str, Identity] = OrderedDict()

    def remembered(self, authorization: str | None) -> Identity | None:
        """The identity of a header whose token was verified before and has not expired (no I/O)."""
        try:
            return self._remembered_token(bearer_token(authorization))
        except Unauthenticated:
            return None

    def _remembered_token(self, token: str) -> Identity | None:
        identity = self._verified.get(token)
        if identity is None:
            return None
        if self._now() >= identity.expires_at:
            del self._verified[token]
            return None
        self._verified.move_to_end(token)
        return identity

    async def identity_from_header(self, authorization: str | None) -> Identity:
        return await self.identity_from_token(bearer_token(authorization))

    async def identity_from_token(self, token: str) -> Identity:
        identity = self._remembered_token(token)
        if identity is not None:
            return identity
        identity = await self._verify(token)
        self._verified[token] = identity
        if len(self._verified) > _VERIFIED_CACHE_SIZE:
            self._verified.popitem(last=False)
        return identity

    async def _verify(self, token: str) -> Identity:
        try:
            key = await self._signing_key(token)
            claims = jwt.decode(
                token,
                key=key,
                algorithms=self._settings.algorithms,
                issuer=self._settings.issuer,
                audience=self._settings.audience,
                leeway=self._settings.leeway_s,
                # Expiry is checked below against our clock (PyJWT reads the system's).
                options={
                    "require": _REQUIRED_CLAIMS,
                    "verify_aud": self._settings.audience is not None,
                    "verify_exp": False,
                },
            )
        except jwt.PyJWKClientConnectionError as error:
            # The identity provider is away: the token may well be valid, so the client must not drop it.
            raise Unavailable(JWKS_UNAVAILABLE) from error
        except jwt.PyJWTError as error:
            # The reason (expired, bad signature...) helps the client; it reveals nothing secret.
            raise Unauthenticated(f"Invalid token: {error}.") from error
        expires_at = claims["exp"]
        if not isinstance(expires_at, int | float) or isinstance(expires_at, bool):
            raise Unauthenticated("Invalid token: `exp` must be a number.")
        if self._now() >= expires_at + self._settings.leeway_s:
            raise Unauthenticated("Invalid token: Signature has expired.")
        subject = claims["sub"]
        if not isinstance(subject, str) or not 0 < len(subject) <= _MAX_SUBJECT_LENGTH:
            raise Unauthenticated("Invalid token: `sub` must be a non-empty string.")
        # Remembered only until expiry as the verifier saw it (leeway included).
        return Identity(subject, float(expires_at) + self._settings.leeway_s)

    def _now(self) -> float:
        return self._clock.now().timestamp()

    async def _signing_key(self, token: str) -> Any:
        if self._jwks is None:
            return self._static_key
        # PyJWKClient fetches with blocking urllib; keys are cached, so this rarely leaves the thread pool.
        signing_key = await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)
        return signing_key.key


def mint_development_token(*, secret: str, subject: str, now: datetime, ttl: timedelta) -> str:
    """An HS256 token for local use; production never accepts these (see Settings)."""
    claims = {"sub": subject, "iat": now, "exp": now + ttl}
    return jwt.encode(claims, secret, algorithm="HS256")


def development_token(auth: AuthSettings, subject: str, *, ttl: timedelta) -> str:
    """A development token signed with the configured secret, dated by the wall clock: the verifier checks
    expiry against it, whatever clock the game runs on (a test's may be anywhere)."""
    return mint_development_token(
        secret=auth.dev_secret.get_secret_value(), subject=subject, now=SystemClock().now(), ttl=ttl
    )
