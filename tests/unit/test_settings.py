"""Configuration: environment variables, and refusal of unsafe production settings."""

import pytest
from pydantic import SecretStr, ValidationError

from pixelpet.settings import AuthSettings, Environment, Settings
from tests.support.service import run_pixelpet


def test_nested_settings_come_from_prefixed_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIXELPET_MONGODB_URI", "mongodb://db:27017/?replicaSet=rs0")
    monkeypatch.setenv("PIXELPET_MONGO__TIMEOUT_MS", "1500")
    monkeypatch.setenv("PIXELPET_LIMITS__MAX_PETS_PER_OWNER", "7")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.mongodb_uri is not None
    assert settings.mongodb_uri.get_secret_value().startswith("mongodb://db")
    assert (settings.mongo.timeout_ms, settings.limits.max_pets_per_owner) == (1500, 7)
    assert "db:27017" not in repr(settings), "the URI may hold credentials: it must not print"


def test_production_refuses_the_development_defaults() -> None:
    with pytest.raises(ValidationError) as error:
        Settings(environment=Environment.PRODUCTION, _env_file=None)  # type: ignore[call-arg]
    message = str(error.value)
    assert "PIXELPET_MONGODB_URI is required" in message
    assert "PIXELPET_AUTH__JWKS_URL" in message
    assert "HS256" in message
    assert "PIXELPET_AUTH__ISSUER and PIXELPET_AUTH__AUDIENCE" in message


def test_production_starts_with_a_database_and_verification_keys() -> None:
    settings = Settings(
        environment=Environment.PRODUCTION,
        mongodb_uri=SecretStr("mongodb://db/?replicaSet=rs0"),
        auth=AuthSettings(
            jwks_url="https://issuer.example/.well-known/jwks.json",
            algorithms=["RS256"],
            issuer="https://issuer.example/",
            audience="pixelpet",
        ),
        _env_file=None,  # type: ignore[call-arg]
    )
    assert settings.environment is Environment.PRODUCTION


def test_unknown_settings_are_errors_not_silently_ignored() -> None:
    with pytest.raises(ValidationError):
        Settings(mongo_uri="typo", _env_file=None)  # type: ignore[call-arg]


def test_the_service_refuses_to_start_in_production_and_says_why() -> None:
    completed = run_pixelpet("serve", env={"PIXELPET_ENVIRONMENT": "production"})
    assert completed.returncode == 2
    assert completed.stderr.startswith("pixelpet: invalid configuration: refusing to start in production")
    assert "PIXELPET_MONGODB_URI is required" in completed.stderr
    assert "Traceback" not in completed.stderr
