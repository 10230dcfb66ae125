"""The committed SDL, descriptions everywhere, and caching of parse and validation."""

from pathlib import Path

from graphql import GraphQLInputObjectType, GraphQLObjectType

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


async def test_parsing_and_validation_are_cached_across_requests_despite_the_limiters() -> None:
    schema = build_schema(LimitSettings())
    query = "query Cached { pets(first: 1) { pageInfo { hasNextPage } } }"
    await schema.execute(query)
    parsed, validated = schema.document_cache.parse.cache_info(), schema.document_cache.validate.cache_info()  # type: ignore[attr-defined]
    await schema.execute(query)
    await schema.execute(query)
    assert schema.document_cache.parse.cache_info().hits - parsed.hits == 2  # type: ignore[attr-defined]
    after = schema.document_cache.validate.cache_info()  # type: ignore[attr-defined]
    assert (after.hits - validated.hits, after.misses - validated.misses) == (2, 0)


async def test_the_limits_still_apply_through_the_cache() -> None:
    schema = build_schema(LimitSettings(max_query_depth=2))
    result = await schema.execute("{ pets { edges { node { stats { asOf } } } } }")
    assert result.errors
    assert "exceeds maximum operation depth" in result.errors[0].message
