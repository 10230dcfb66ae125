"""With no MongoDB URI, development runs on an embedded SecantusDB whose data survives restarts."""

from pathlib import Path

import httpx
import pytest

from pixelpet.app import create_app
from pixelpet.devdb import free_port
from pixelpet.settings import DevDatabaseSettings, Settings
from tests.support.graphql import GraphQLClient, create_pet
from tests.support.server import running_server


async def test_the_embedded_database_starts_and_keeps_data_across_restarts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(
        devdb=DevDatabaseSettings(data_dir=tmp_path / "devdb", port=free_port()), _env_file=None
    )  # type: ignore[call-arg]
    assert settings.mongodb_uri is None
    async with running_server(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as http:
        pet = await create_pet(GraphQLClient(http), name="Keeper")
    assert any("DEVELOPMENT DATABASE" in record.getMessage() for record in caplog.records)
    assert (tmp_path / "devdb").is_dir()

    async with running_server(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as http:
        response = await GraphQLClient(http).execute(
            "query($id: ID!) { pet(id: $id) { name } }", {"id": pet["id"]}
        )
    assert response.data == {"pet": {"name": "Keeper"}}
