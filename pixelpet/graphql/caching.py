"""Parse and validate each distinct document once, with the limit rules built once.

Strawberry's ``ParserCache``/``ValidationCache`` plus ``AddValidationRules`` do the same in three
extensions, each with its own hooks on every request; this one does it in one. The validation
cache is keyed on the rule classes: ``QueryDepthLimiter``/``MaxAliasesLimiter`` passed as
per-request factories build new classes each time and would never hit it (strawberry 0.341).
"""

from collections.abc import Callable, Iterator
from functools import lru_cache

from graphql import ASTValidationRule, DocumentNode, GraphQLError, GraphQLSchema, parse, specified_rules
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter, SchemaExtension
from strawberry.schema.schema import validate_document

from pixelpet.settings import LimitSettings

# Distinct documents kept; bounded so unique query texts cannot grow memory without limit.
CACHE_SIZE = 256


class DocumentCache:
    def __init__(self, limits: LimitSettings, *, size: int = CACHE_SIZE) -> None:
        self.rules: tuple[type[ASTValidationRule], ...] = (
            *QueryDepthLimiter(max_depth=limits.max_query_depth).validation_rules,
            *MaxAliasesLimiter(max_alias_count=limits.max_aliases).validation_rules,
        )
        # Every rule a document must pass: the specification's and our limits.
        self.all_rules = (*specified_rules, *self.rules)
        self.parse: Callable[..., DocumentNode] = lru_cache(maxsize=size)(parse)
        self.validate: Callable[
            [GraphQLSchema, DocumentNode, tuple[type[ASTValidationRule], ...]], list[GraphQLError]
        ] = lru_cache(maxsize=size)(validate_document)


class CachedParseAndValidate(SchemaExtension):
    def __init__(self, cache: DocumentCache) -> None:
        super().__init__()
        self._cache = cache

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        context.graphql_document = self._cache.parse(context.query, **context.parse_options)
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        assert context.graphql_document is not None
        context.validation_rules = self._cache.all_rules
        context.pre_execution_errors = self._cache.validate(
            context.schema._schema, context.graphql_document, context.validation_rules
        )
        yield
