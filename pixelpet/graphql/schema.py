"""Assembles the GraphQL schema from each domain's root types, with its limits and caches."""

from collections.abc import Iterable
from typing import Any

import strawberry
from graphql import GraphQLError, GraphQLSchema
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext
from strawberry.types import ExecutionResult as StrawberryExecutionResult

from pixelpet.graphql.account import AccountSubscription
from pixelpet.graphql.caching import CachedParseAndValidate, DocumentCache
from pixelpet.graphql.deadline import OperationDeadline
from pixelpet.graphql.errors import classify_in_place
from pixelpet.graphql.operation import OperationPipeline
from pixelpet.graphql.pets import PetMutation, PetQuery, PetSubscription
from pixelpet.graphql.seam import (
    DEFAULT_ALLOWED_OPERATION_TYPES,
    StrawberryGraphQLCoreExecutionContext,
    StrawberryOperationType,
    core_schema,
)
from pixelpet.graphql.telemetry import OperationRecorder
from pixelpet.settings import LimitSettings


@strawberry.type(description="Read your pets.")
class Query(PetQuery):
    pass


@strawberry.type(description="Create, care for and delete your pets.")
class Mutation(PetMutation):
    pass


@strawberry.type(description="Watch your pets live.")
class Subscription(PetSubscription, AccountSubscription):
    pass


class PixelPetSchema(strawberry.Schema):
    document_cache: DocumentCache
    # Runs queries and mutations while the schema has exactly the extensions build_schema gave it.
    pipeline: OperationPipeline | None = None
    _built_extensions: object = None

    @property
    def active_pipeline(self) -> OperationPipeline | None:
        """The pipeline, while the schema has exactly the extensions build_schema gave it (decision 22)."""
        return self.pipeline if self.extensions is self._built_extensions else None

    @property
    def core(self) -> GraphQLSchema:
        """graphql-core's schema, which the subscription transport executes pushed events against."""
        return core_schema(self)

    async def execute(  # strawberry's signature
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[StrawberryOperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> StrawberryExecutionResult:
        # Subscriptions run only on the WebSocket endpoint, which pushes their events
        # (pixelpet/graphql/endpoint.py); executed once, over HTTP, they could only fail. Refused
        # as an operation type, an HTTP client gets a 400 saying so.
        allowed = set(allowed_operation_types or DEFAULT_ALLOWED_OPERATION_TYPES) - {
            StrawberryOperationType.SUBSCRIPTION
        }
        pipeline = self.active_pipeline
        if pipeline is not None:
            return await pipeline.execute(
                query,
                variables=variable_values,
                context=context_value,
                root_value=root_value,
                operation_name=operation_name,
                allowed=allowed,
            )
        return await super().execute(
            query, variable_values, context_value, root_value, operation_name, allowed, operation_extensions
        )

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Strawberry calls this once for every result with errors, on every path (parse errors
        # from the parser cache included, which bypass extensions' on_operation hooks), before the
        # result is sent; so does the pipeline. Classifying here logs what deserves it (unexpected
        # errors, with their stack traces) instead of strawberry's default of logging every refusal
        # at ERROR.
        classify_in_place(errors)


def build_schema(
    limits: LimitSettings,
    *,
    recorder: OperationRecorder | None = None,
    introspection: bool = True,
    field_suggestions: bool = True,
    strawberry_path: bool = False,
) -> "PixelPetSchema":
    """The schema: cached parsing and validation, its limits, an operation budget, error classification,
    and (given a recorder) a span, metrics and a log line per operation.

    Queries and mutations run through ``OperationPipeline`` (operation.py); ``strawberry_path`` keeps
    strawberry's own execution with the same steps as extensions (the pipeline's tests compare the two).
    """
    document_cache = DocumentCache(limits, introspection=introspection, field_suggestions=field_suggestions)
    extensions: list[type[SchemaExtension] | Any] = [
        lambda: CachedParseAndValidate(document_cache),
        lambda: OperationDeadline(limits.operation_timeout_s),
        *((recorder.extension,) if recorder is not None else ()),
    ]
    schema = PixelPetSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
    )
    schema.document_cache = document_cache
    if not strawberry_path and _pipeline_runs_it(schema):
        schema.pipeline = OperationPipeline(
            schema=schema.core,
            documents=document_cache,
            budget_s=limits.operation_timeout_s,
            recorder=recorder,
            process_errors=schema.process_errors,
        )
        schema._built_extensions = schema.extensions
    return schema


def _pipeline_runs_it(schema: PixelPetSchema) -> bool:
    """Whether the schema uses only what ``OperationPipeline`` does as strawberry does (decision 22)."""
    config = schema.config
    return (
        not schema.directives
        and not config.disable_field_suggestions
        and not config.enable_experimental_incremental_execution
        and schema.execution_context_class is StrawberryGraphQLCoreExecutionContext
    )


def sdl(limits: LimitSettings | None = None) -> str:
    """The schema in SDL, as committed in schema.graphql."""
    return build_schema(limits or LimitSettings()).as_str() + "\n"
