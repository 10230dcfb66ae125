"""The committed SDL, descriptions everywhere, and caching of parse and validation."""

from pathlib import Path

from graphql import GraphQLInputObjectType, GraphQLObjectType
from strawberry.extensions import ValidationCache

from pixelpet.graphql.schema import build_schema, sdl
from pixelpet.settings import LimitSettings


def test_the_committed_schema_matches_the_code(repo_root: Path) -> None:
    committed = (repo_root / "schema.graphql").read_text()
    assert committed == sdl(), "schema.graphql is stale: run `make schema` and commit the result"


def test_every_public_type_and_field_has_a_description() -> None:
    schema = build_schema(LimitSettings())._schema
    missing = []
    for name, graphql_type in schema.type_map.items():
        if name.startswith("__") or name in {"String", "Int", "Boolean", "ID", "Float"}:
            continue
        if not graphql_type.description:
            missing.append(name)
        if isinstance(graphql_type, GraphQLObjectType | GraphQLInputObjectType):
            missing += [
                f"{name}.{field}" for field, value in graphql_type.fields.items() if not value.description
            ]
    assert missing == []


async def test_validation_is_cached_across_requests_despite_the_limiters() -> None:
    schema = build_schema(LimitSettings())
    query = "query Cached { pets(first: 1) { pageInfo { hasNextPage } } }"
    # Strawberry keeps one shared LRU per cache size; a fresh extension hands us that same function.
    cache = ValidationCache().cached_validate_document
    await schema.execute(query)
    before = cache.cache_info()
    await schema.execute(query)
    await schema.execute(query)
    after = cache.cache_info()
    assert after.hits - before.hits == 2
    assert after.misses == before.misses
