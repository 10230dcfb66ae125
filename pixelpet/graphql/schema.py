"""Assembles the GraphQL schema from each domain's root types, with its limits and caches."""

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.extensions import ValidationCache as StrawberryValidationCache
from strawberry.types.execution import ExecutionContext

from pixelpet.graphql.errors import classify_in_place
from pixelpet.pets.schema import PetMutation, PetQuery, PetSubscription
from pixelpet.settings import LimitSettings


@strawberry.type(description="Read your pets.")
class Query(PetQuery):
    pass


@strawberry.type(description="Create, care for and delete your pets.")
class Mutation(PetMutation):
    pass


@strawberry.type(description="Watch your pets live.")
class Subscription(PetSubscription):
    pass


class PixelPetSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Strawberry calls this once for every result with errors, on every path (parse errors
        # from the parser cache included, which bypass extensions' on_operation hooks), before the
        # result is sent. Classifying here logs what deserves it (unexpected errors, with their
        # stack traces) instead of strawberry's default of logging every refusal at ERROR.
        classify_in_place(errors)


def build_schema(limits: LimitSettings, *, extra_extensions: tuple[Any, ...] = ()) -> strawberry.Schema:
    """The schema with parse and validation caching, depth and alias limits, and error classification."""
    # Build the limiter rules once. Passed as per-request factories, QueryDepthLimiter and
    # MaxAliasesLimiter would create new rule classes per request, and the validation cache is keyed
    # on the rule classes: it would never hit (strawberry 0.341).
    rules = (
        *QueryDepthLimiter(max_depth=limits.max_query_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=limits.max_aliases).validation_rules,
    )
    extensions: list[type[SchemaExtension] | Any] = [
        lambda: AddValidationRules(list(rules)),
        ParserCache,
        StrawberryValidationCache,
        *extra_extensions,
    ]
    return PixelPetSchema(query=Query, mutation=Mutation, subscription=Subscription, extensions=extensions)


def sdl(limits: LimitSettings | None = None) -> str:
    """The schema in SDL, as committed in schema.graphql."""
    return build_schema(limits or LimitSettings()).as_str() + "\n"
