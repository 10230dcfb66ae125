"""The committed SDL, descriptions everywhere, and caching of parse and validation."""

from pathlib import Path

from graphql import DocumentNode, GraphQLInputObjectType, GraphQLObjectType, parse
from pydantic import SecretStr

from pixelpet.graphql.caching import DocumentCache
from pixelpet.graphql.schema import build_schema, sdl
from pixelpet.settings import AuthSettings, Environment, LimitSettings, Settings


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
    cache = schema.document_cache
    await schema.execute(query)
    parsed, (hits, misses) = cache.parse_hits, cache.validation_hits_and_misses()
    await schema.execute(query)
    await schema.execute(query)
    assert cache.parse_hits - parsed == 2
    after_hits, after_misses = cache.validation_hits_and_misses()
    assert (after_hits - hits, after_misses - misses) == (2, 0)


def test_validation_is_kept_per_parsed_document_without_hashing_its_tree() -> None:
    """The validation cache keys a document by identity (the parser cache hands out one per text): hashing
    graphql-core's nodes hashes every node below, and a cache hit did that on every request. A document
    parsed again (evicted from the parser cache, or another text) is validated afresh, not mistaken for
    another."""
    schema = build_schema(LimitSettings())
    cache, core = schema.document_cache, schema._schema
    hits, misses = cache.validation_hits_and_misses()
    document = parse("{ pets(first: 1) { pageInfo { hasNextPage } } }")
    assert cache.validate(core, document, cache.all_rules) == []  # a miss: the rules may hash what they walk
    _refuse_hashing(document)
    assert cache.validate(core, document, cache.all_rules) == []  # a hit: nothing hashes the tree
    wrong = parse("{ pets(first: 1) { pageInfo { nope } } }")
    assert cache.validate(core, wrong, cache.all_rules)
    same_text = parse("{ pets(first: 1) { pageInfo { hasNextPage } } }")
    assert cache.validate(core, same_text, cache.all_rules) == []
    after_hits, after_misses = cache.validation_hits_and_misses()
    assert (after_hits - hits, after_misses - misses) == (1, 3)


def _refuse_hashing(document: DocumentNode) -> None:
    """From now on, hashing ``document``'s operation (as hashing the document does) fails."""

    def refuse(self: object) -> int:
        raise AssertionError("the document's tree was hashed")

    operation = document.definitions[0]
    node_type = type(operation)
    unhashable = type(f"Unhashable{node_type.__name__}", (node_type,), {"__hash__": refuse, "__slots__": ()})
    unhashable.kind = node_type.kind  # type: ignore[attr-defined]  # graphql-core names a subclass's kind anew
    # graphql-core's nodes are frozen dataclasses: only object.__setattr__ can swap the class.
    object.__setattr__(operation, "__class__", unhashable)


async def test_the_limits_still_apply_through_the_cache() -> None:
    schema = build_schema(LimitSettings(max_query_depth=2))
    result = await schema.execute("{ pets { edges { node { stats { asOf } } } } }")
    assert result.errors
    assert "exceeds maximum operation depth" in result.errors[0].message


async def test_a_document_past_the_token_limit_is_a_parse_error_before_any_rule() -> None:
    schema = build_schema(LimitSettings(max_tokens=50))
    result = await schema.execute("{ pets { edges { node { " + "id " * 100 + "} } } }")
    assert result.errors
    assert "more than 50 tokens" in result.errors[0].message
    assert result.errors[0].extensions == {"code": "GRAPHQL_PARSE_FAILED"}


async def test_repeated_fields_past_the_field_limit_are_refused_before_validation() -> None:
    schema = build_schema(LimitSettings(max_fields=10))
    # `nope` is not a field: had any validation rule run, it would have said so.
    result = await schema.execute("{ pets { edges { node { " + "id " * 20 + "nope } } } }")
    assert result.errors
    assert [error.message for error in result.errors] == [
        "The document selects 24 fields (fragments counted where spread); at most 10."
    ]
    assert result.errors[0].extensions == {"code": "GRAPHQL_VALIDATION_FAILED"}


async def test_a_fragment_bomb_is_refused_before_any_rule_walks_its_expansion() -> None:
    # Each fragment spreads the previous one twice: 3 * 2^39 fields, in 1.7 KB of text.
    fragments = ["fragment F0 on Pet { id name mood }"]
    fragments += [f"fragment F{i} on Pet {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, 40)]
    document = "{ pets(first: 1) { edges { node { ...F39 } } } } " + " ".join(fragments)
    schema = build_schema(LimitSettings())
    # Before the expanded count, strawberry's depth rule walked 2^40 nodes here: this call took hours.
    result = await schema.execute(document)
    assert result.errors
    # The operation: 3 fields and F39 (3 * 2^39); the fragment definitions: 3 * (2^0 + ... + 2^39).
    expanded = 3 + 3 * 2**39 + 3 * (2**40 - 1)
    assert result.errors[0].message.startswith(f"The document selects {expanded} fields")


def test_the_parse_cache_is_bounded_by_the_size_of_what_it_holds() -> None:
    cache = DocumentCache(LimitSettings(), parse_cache_bytes=2_000)
    for index in range(200):  # 200 distinct documents of ~40 bytes: 8,000 bytes in all
        cache.parse(f"{{ pets(first: {index + 1}) {{ edges {{ cursor }} }} }}")
    assert 1_900 < cache.parse_cache_bytes <= 2_000


async def test_introspection_and_field_suggestions_can_be_turned_off() -> None:
    open_schema = build_schema(LimitSettings())
    closed = build_schema(LimitSettings(), introspection=False, field_suggestions=False)
    assert not (await open_schema.execute("{ __schema { queryType { name } } }")).errors
    refused = await closed.execute("{ __schema { queryType { name } } }")
    assert refused.errors
    assert "introspection" in refused.errors[0].message
    assert refused.errors[0].extensions == {"code": "GRAPHQL_VALIDATION_FAILED"}
    typo = "{ pets { edges { node { nmae } } } }"
    assert "Did you mean" in (await open_schema.execute(typo)).errors[0].message  # type: ignore[index]
    hidden = (await closed.execute(typo)).errors[0].message  # type: ignore[index]
    assert "Cannot query field 'nmae'" in hidden
    assert "Did you mean" not in hidden


def test_production_turns_both_off_unless_told_otherwise() -> None:
    development = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (development.introspection, development.field_suggestions) == (True, True)
    production = Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment=Environment.PRODUCTION,
        mongodb_uri=SecretStr("mongodb://db/?replicaSet=rs0"),
        auth=AuthSettings(
            jwks_url="https://id/jwks", algorithms=["RS256"], issuer="https://id/", audience="pp"
        ),
    )
    assert (production.introspection, production.field_suggestions) == (False, False)
    opted_in = production.model_copy(update={"limits": LimitSettings(introspection=True)})
    assert opted_in.introspection is True
