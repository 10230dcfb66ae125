"""Bearer tokens: development HS256, production RS256 from a PEM or a JWKS URL."""

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from pixelpet.auth import JWKS_UNAVAILABLE, TokenVerifier, mint_development_token
from pixelpet.cli import main as cli_main
from pixelpet.clock import ManualClock
from pixelpet.devdb import free_port
from pixelpet.errors import Unauthenticated, Unavailable
from pixelpet.settings import DEVELOPMENT_SECRET, AuthSettings
from tests.support.server import running_server


def now() -> datetime:
    """The time when a test mints its token (not when the module was collected: the suite runs long)."""
    return datetime.now(UTC)


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


async def test_a_development_token_names_its_owner() -> None:
    token = mint_development_token(
        secret=DEVELOPMENT_SECRET, subject="alice", now=now(), ttl=timedelta(hours=1)
    )
    assert (await TokenVerifier(AuthSettings()).identity_from_header(f"Bearer {token}")).owner == "alice"


@pytest.mark.parametrize(
    "header",
    [None, "", "Basic abc", "Bearer ", "Bearer garbage"],
)
async def test_missing_or_malformed_credentials_are_unauthenticated(header: str | None) -> None:
    with pytest.raises(Unauthenticated):
        await TokenVerifier(AuthSettings()).identity_from_header(header)


async def test_expired_tokens_and_foreign_signatures_are_refused() -> None:
    verifier = TokenVerifier(AuthSettings(leeway_s=0))
    expired = mint_development_token(
        secret=DEVELOPMENT_SECRET, subject="alice", now=now() - timedelta(hours=2), ttl=timedelta(hours=1)
    )
    with pytest.raises(Unauthenticated, match="expired"):
        await verifier.identity_from_token(expired)
    forged = mint_development_token(
        secret="another-secret-of-32-bytes-or-more!", subject="alice", now=now(), ttl=timedelta(hours=1)
    )
    with pytest.raises(Unauthenticated, match="Signature"):
        await verifier.identity_from_token(forged)


async def test_a_token_without_subject_or_expiry_is_refused() -> None:
    no_exp = jwt.encode({"sub": "alice"}, DEVELOPMENT_SECRET, algorithm="HS256")
    with pytest.raises(Unauthenticated, match="exp"):
        await TokenVerifier(AuthSettings()).identity_from_token(no_exp)


async def test_production_verifies_rs256_with_a_pem_key_and_refuses_hs256(rsa_key: rsa.RSAPrivateKey) -> None:
    settings = AuthSettings(
        public_key_pem=SecretStr(public_pem(rsa_key)), algorithms=["RS256"], issuer="https://id"
    )
    verifier = TokenVerifier(settings)
    claims = {"sub": "carol", "exp": now() + timedelta(minutes=5), "iss": "https://id"}
    assert (
        await verifier.identity_from_token(jwt.encode(claims, rsa_key, algorithm="RS256"))
    ).owner == "carol"
    hs256 = mint_development_token(
        secret=DEVELOPMENT_SECRET, subject="carol", now=now(), ttl=timedelta(hours=1)
    )
    with pytest.raises(Unauthenticated):
        await verifier.identity_from_token(hs256)
    wrong_issuer = jwt.encode({**claims, "iss": "https://evil"}, rsa_key, algorithm="RS256")
    with pytest.raises(Unauthenticated, match="issuer"):
        await verifier.identity_from_token(wrong_issuer)


async def test_a_configured_audience_and_issuer_must_be_in_the_token(rsa_key: rsa.RSAPrivateKey) -> None:
    settings = AuthSettings(
        public_key_pem=SecretStr(public_pem(rsa_key)),
        algorithms=["RS256"],
        issuer="https://id",
        audience="pixelpet",
    )
    verifier = TokenVerifier(settings)
    claims = {"sub": "erin", "exp": now() + timedelta(minutes=5), "iss": "https://id", "aud": "pixelpet"}
    assert (
        await verifier.identity_from_token(jwt.encode(claims, rsa_key, algorithm="RS256"))
    ).owner == "erin"
    for missing in ("aud", "iss"):
        without = {key: value for key, value in claims.items() if key != missing}
        with pytest.raises(Unauthenticated, match=missing):
            await verifier.identity_from_token(jwt.encode(without, rsa_key, algorithm="RS256"))
    other_service = jwt.encode({**claims, "aud": "billing"}, rsa_key, algorithm="RS256")
    with pytest.raises(Unauthenticated, match="Audience doesn't match"):
        await verifier.identity_from_token(other_service)


@pytest.fixture
async def jwks_url(rsa_key: rsa.RSAPrivateKey) -> AsyncIterator[str]:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key()))
    jwk.update(kid="k1", use="sig", alg="RS256")

    async def keys(_: object) -> JSONResponse:
        return JSONResponse({"keys": [jwk]})

    async with running_server(Starlette(routes=[Route("/jwks.json", keys)])) as url:
        yield f"{url}/jwks.json"


async def test_production_verifies_keys_from_a_jwks_url(rsa_key: rsa.RSAPrivateKey, jwks_url: str) -> None:
    verifier = TokenVerifier(AuthSettings(jwks_url=jwks_url, algorithms=["RS256"]))
    token = jwt.encode(
        {"sub": "dave", "exp": now() + timedelta(minutes=5)},
        rsa_key,
        algorithm="RS256",
        headers={"kid": "k1"},
    )
    assert (await verifier.identity_from_token(token)).owner == "dave"


def rs256(key: rsa.RSAPrivateKey, kid: str, subject: str = "dave") -> str:
    claims = {"sub": subject, "exp": now() + timedelta(minutes=5)}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


async def test_a_key_the_cache_does_not_know_is_fetched_again(rsa_key: rsa.RSAPrivateKey) -> None:
    rotated = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    published = {"k1": rsa_key}

    async def keys(_: object) -> JSONResponse:
        jwks = []
        for kid, key in published.items():
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
            jwks.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
        return JSONResponse({"keys": jwks})

    async with running_server(Starlette(routes=[Route("/jwks.json", keys)])) as url:
        # No cooldown here, so the refetch happens at once (the default waits up to 5 s between refetches).
        settings = AuthSettings(jwks_url=f"{url}/jwks.json", algorithms=["RS256"], jwks_refresh_cooldown_s=0)
        verifier = TokenVerifier(settings)
        assert (await verifier.identity_from_token(rs256(rsa_key, "k1"))).owner == "dave"
        published["k2"] = rotated  # the identity provider rotates its key
        assert (await verifier.identity_from_token(rs256(rotated, "k2", "frank"))).owner == "frank"


@pytest.mark.parametrize("outage", ["refused", "hanging"])
async def test_an_identity_provider_outage_is_unavailable_with_a_fixed_message(
    rsa_key: rsa.RSAPrivateKey, outage: str
) -> None:
    answer = asyncio.Event()

    async def hang(_: object) -> JSONResponse:
        await answer.wait()  # past the 1 s fetch timeout: until the test is over, so the server can stop
        return JSONResponse({"keys": []})

    async with running_server(Starlette(routes=[Route("/jwks.json", hang)])) as url:
        jwks_url = f"{url}/jwks.json" if outage == "hanging" else f"http://127.0.0.1:{free_port()}/jwks.json"
        verifier = TokenVerifier(AuthSettings(jwks_url=jwks_url, algorithms=["RS256"], jwks_timeout_s=1))
        # Within the fetch timeout, not PyJWT's 30 s default (the bound is generous; the event is the error).
        try:
            with pytest.raises(Unavailable) as error:
                await asyncio.wait_for(verifier.identity_from_token(rs256(rsa_key, "k1")), 20)
        finally:
            answer.set()
    assert str(error.value) == JWKS_UNAVAILABLE
    assert error.value.code.value == "UNAVAILABLE"


def test_the_cli_mints_a_token_the_service_accepts(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["token", "--sub", "erin"]) == 0
    token = capsys.readouterr().out.strip()
    claims = jwt.decode(token, DEVELOPMENT_SECRET, algorithms=["HS256"])
    assert claims["sub"] == "erin"
    assert claims["exp"] - claims["iat"] == 24 * 3600


async def test_a_remembered_token_still_expires() -> None:
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    verifier = TokenVerifier(AuthSettings(leeway_s=0), clock=clock)
    token = mint_development_token(
        secret=DEVELOPMENT_SECRET, subject="alice", now=clock.now(), ttl=timedelta(seconds=2)
    )
    assert (await verifier.identity_from_token(token)).owner == "alice"
    clock.advance(timedelta(seconds=1))
    assert (await verifier.identity_from_token(token)).owner == "alice"  # from the cache
    clock.advance(timedelta(seconds=1))
    with pytest.raises(Unauthenticated, match="expired"):
        await verifier.identity_from_token(token)


async def test_an_expired_token_is_refused_even_when_first_seen() -> None:
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    token = mint_development_token(
        secret=DEVELOPMENT_SECRET, subject="alice", now=clock.now(), ttl=timedelta(seconds=60)
    )
    clock.advance(timedelta(seconds=61 + 30))  # past exp and the default 30 s leeway
    with pytest.raises(Unauthenticated, match="expired"):
        await TokenVerifier(AuthSettings(), clock=clock).identity_from_token(token)
    clock.advance(timedelta(seconds=-2))  # within the leeway
    assert (await TokenVerifier(AuthSettings(), clock=clock).identity_from_token(token)).owner == "alice"
