"""Parse and validate each distinct document once, with the limit rules built once, and refuse hostile
documents before they cost anything.

Strawberry's ``ParserCache``/``ValidationCache`` plus ``AddValidationRules`` do the same in three
extensions, each with its own hooks on every request; this one does it in one. The validation
cache is keyed on the rule classes: ``QueryDepthLimiter``/``MaxAliasesLimiter`` passed as
per-request factories build new classes each time and would never hit it (strawberry 0.341).

Hostile documents are stopped in the order of their cost: the parser gives up after ``max_tokens``
tokens (graphql-core's own limit) and ``max_body_bytes`` characters, and a document with more than
``max_fields`` field selections is refused before any validation rule runs (the overlapping-fields
rule is quadratic in the fields of a selection set: `{ id id id ... }` passes the depth and alias limits).
A fresh attacker document therefore costs one bounded parse, not a cache miss of unbounded work.
"""

from collections import OrderedDict
from collections.abc import Callable, Iterator
from functools import lru_cache

from graphql import (
    ASTValidationRule,
    DocumentNode,
    ExecutableDefinitionNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    NoSchemaIntrospectionCustomRule,
    SelectionSetNode,
    parse,
    specified_rules,
    validate,
)
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter, SchemaExtension

from pixelpet.graphql.completion import CompletionPlans
from pixelpet.graphql.cost import operation_limits
from pixelpet.graphql.seam import MaybeNullValidationRule, OneOfInputValidationRule, core_schema
from pixelpet.graphql.telemetry import root_field
from pixelpet.settings import LimitSettings

# Distinct validation results kept (their documents come from the parse cache).
CACHE_SIZE = 256
# Parsed documents kept, bounded by their source's size: distinct large texts cannot grow memory.
PARSE_CACHE_BYTES = 512 * 1024


class DocumentCache:
    def __init__(
        self,
        limits: LimitSettings,
        *,
        introspection: bool = True,
        field_suggestions: bool = True,
        size: int = CACHE_SIZE,
        parse_cache_bytes: int = PARSE_CACHE_BYTES,
    ) -> None:
        self.rules: tuple[type[ASTValidationRule], ...] = (
            *QueryDepthLimiter(max_depth=limits.max_query_depth).validation_rules,
            *MaxAliasesLimiter(max_alias_count=limits.max_aliases).validation_rules,
            operation_limits(
                max_root_fields=limits.max_root_fields,
                max_cost=limits.max_cost,
                max_page_size=limits.max_page_size,
            ),
            *(() if introspection else (NoSchemaIntrospectionCustomRule,)),
        )
        self._hide_suggestions = not field_suggestions
        # Every rule a document must pass: the specification's and our limits.
        self.all_rules = (*specified_rules, *self.rules)
        self._limits = limits
        self._parsed: OrderedDict[str, DocumentNode] = OrderedDict()
        self._parsed_bytes = 0
        self._parse_cache_bytes = parse_cache_bytes
        self.parse_hits = 0
        # The field count and the rules run once per distinct document: a cache hit costs neither.
        self._validate: Callable[
            [GraphQLSchema, SameDocument, tuple[type[ASTValidationRule], ...]], list[GraphQLError]
        ] = lru_cache(maxsize=size)(self._count_then_validate)
        # How plain objects of the documents used last are completed (completion.py).
        self.plans = CompletionPlans(size)
        # Each operation's metric labels (telemetry.root_field), worked out once per document.
        self._root_fields: Callable[[GraphQLSchema, SameDocument, str | None], tuple[str, str]] = lru_cache(
            maxsize=size
        )(self._root_field_of)

    def parse(self, query: str) -> DocumentNode:
        """The document, parsed once per distinct text; GraphQLSyntaxError past the token or size limit."""
        document = self._parsed.get(query)
        if document is not None:
            self._parsed.move_to_end(query)
            self.parse_hits += 1
            return document
        document = parse(
            query, max_tokens=self._limits.max_tokens, max_source_length=self._limits.max_body_bytes
        )
        if len(query) <= self._parse_cache_bytes:
            self._parsed[query] = document
            self._parsed_bytes += len(query)
            while self._parsed_bytes > self._parse_cache_bytes:
                evicted, _ = self._parsed.popitem(last=False)
                self._parsed_bytes -= len(evicted)
        return document

    @property
    def parse_cache_bytes(self) -> int:
        """The source size of the documents held now."""
        return self._parsed_bytes

    def validation_hits_and_misses(self) -> tuple[int, int]:
        info = self._validate.cache_info()  # type: ignore[attr-defined]  # lru_cache's wrapper
        return info.hits, info.misses

    def validate(
        self, schema: GraphQLSchema, document: DocumentNode, rules: tuple[type[ASTValidationRule], ...]
    ) -> list[GraphQLError]:
        return self._validate(schema, SameDocument(document), rules)

    def root_field(
        self, schema: GraphQLSchema, document: DocumentNode | None, operation_name: str | None
    ) -> tuple[str, str]:
        """``telemetry.root_field``, kept per parsed document and operation name. A name is whatever the
        client sent (JSON: a list, an object, 64 KiB of text): only a short text, or none, is kept."""
        if document is None or not (
            operation_name is None or (type(operation_name) is str and len(operation_name) <= _KEPT_NAME_MAX)
        ):
            return root_field(schema, document, operation_name)
        return self._root_fields(schema, SameDocument(document), operation_name)

    @staticmethod
    def _root_field_of(
        schema: GraphQLSchema, key: "SameDocument", operation_name: str | None
    ) -> tuple[str, str]:
        return root_field(schema, key.document, operation_name)

    def _count_then_validate(
        self, schema: GraphQLSchema, key: "SameDocument", rules: tuple[type[ASTValidationRule], ...]
    ) -> list[GraphQLError]:
        document = key.document
        fields = count_fields(document)
        if fields > self._limits.max_fields:  # before any rule: the overlap rule is quadratic in fields
            limit = self._limits.max_fields
            return [
                GraphQLError(
                    f"The document selects {fields} fields (fragments counted where spread); at most {limit}."
                )
            ]
        # strawberry's own rules as its validate_document adds them, and graphql-core's suggestion switch.
        return validate(
            schema,
            document,
            (*rules, MaybeNullValidationRule, OneOfInputValidationRule),
            hide_suggestions=self._hide_suggestions,
        )


# The longest operation name whose metric labels are kept (a longer one is worked out per request).
_KEPT_NAME_MAX = 100


class SameDocument:
    """A document as a cache key, by identity: graphql-core's nodes are dataclasses whose hash hashes every
    field of every node below, so keying on the document hashed its whole tree on every request (about 30
    nodes for a single-pet query; docs/performance.md, log entry 32). The parser cache hands out one object
    per text. The key holds the document: while the entry lives, no other object can be given its id. A
    text the parser cache evicted and parses again is a new object, validated again (it used to match by
    value)."""

    __slots__ = ("document",)

    def __init__(self, document: DocumentNode) -> None:
        self.document = document

    def __hash__(self) -> int:
        return id(self.document)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SameDocument) and other.document is self.document


def count_fields(document: DocumentNode) -> int:
    """Field selections in the document with its fragments expanded where they are spread.

    Each fragment's size is computed once, so this is linear in the text even when the expansion is not:
    ten fragments each spreading the previous one twice select 2^10 times the first one's fields. The
    depth and alias rules walk that expansion (strawberry's, without memoising fragments), so it must be
    refused before they run: 16 such levels cost them 0.4 s, 30 would hold the event loop for hours.
    """
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    sizes: dict[str, int] = {}

    def size(selection_set: SelectionSetNode, visiting: frozenset[str]) -> int:
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FragmentSpreadNode):
                total += fragment_size(selection.name.value, visiting)
                continue
            if isinstance(selection, FieldNode):
                total += 1
            nested = getattr(selection, "selection_set", None)
            if nested is not None:
                total += size(nested, visiting)
        return total

    def fragment_size(name: str, visiting: frozenset[str]) -> int:
        if name not in sizes:
            fragment = fragments.get(name)
            if fragment is None or name in visiting:  # unknown or cyclic: validation reports it
                return 0
            sizes[name] = size(fragment.selection_set, visiting | {name})
        return sizes[name]

    return sum(
        size(definition.selection_set, frozenset())
        for definition in document.definitions
        if isinstance(definition, ExecutableDefinitionNode)
    )


class CachedParseAndValidate(SchemaExtension):
    def __init__(self, cache: DocumentCache) -> None:
        super().__init__()
        self._cache = cache

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        assert context.query is not None
        context.graphql_document = self._cache.parse(context.query)
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        assert context.graphql_document is not None
        context.validation_rules = self._cache.all_rules
        context.pre_execution_errors = self._cache.validate(
            core_schema(context.schema), context.graphql_document, context.validation_rules
        )
        yield
