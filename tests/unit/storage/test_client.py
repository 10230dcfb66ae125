"""The MongoDB client is configured to fail fast and write safely (docs/decisions/0006)."""

from pymongo import AsyncMongoClient

from pixelpet.settings import MongoSettings
from pixelpet.storage.client import create_client


async def test_the_client_fails_fast_retries_once_and_writes_to_the_majority() -> None:
    client: AsyncMongoClient[dict[str, object]] = create_client(
        "mongodb://127.0.0.1:1/?replicaSet=rs0", MongoSettings()
    )
    options = client.options
    assert options.server_selection_timeout == 2.0
    assert options.timeout == 2.0
    assert options.pool_options.connect_timeout == 2.0
    assert options.pool_options.max_pool_size == 50
    assert options.retry_writes is True
    assert options.retry_reads is True
    assert client.write_concern.document == {"w": "majority", "j": True}
    assert options.pool_options.metadata["application"] == {"name": "pixelpet"}
    await client.close()
