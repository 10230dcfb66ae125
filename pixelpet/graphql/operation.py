"""A query or mutation run as strawberry's ``Schema.execute`` runs it with our extensions, in straight-line
code (decision 22).

Strawberry runs every operation through extension objects built per request and four hook context
managers (operation, parsing, validation, execution); with our three extensions (the document cache,
the operation budget, telemetry) leaving it cut a single-pet query's CPU by about a tenth
(docs/performance.md, log entry 21). ``OperationPipeline`` takes the same steps in the same order:

1. parse from the cache (caching.py); a syntax error is a ``PreExecutionError``;
2. find the operation's type and refuse what the transport does not allow (strawberry's exceptions,
   which the view answers with 400);
3. validate from the cache; errors are a ``PreExecutionError``;
4. execute with graphql-core and strawberry's execution context, under the operation's budget
   (deadline.py), completing plain objects in one loop (completion.py);
5. classify errors (the schema's ``process_errors``) and record the operation (telemetry.py).

Only a schema with exactly our extensions takes this path; one given others (the benchmark's baselines)
runs strawberry's. tests/unit/graphql/test_operation.py runs both on the same operations and requires the
same answers, refusals and records.
"""

import contextlib
from collections.abc import Callable, Collection
from typing import Any

from graphql import GraphQLError, GraphQLSchema, OperationDefinitionNode
from strawberry.exceptions import MissingQueryError
from strawberry.types import ExecutionResult

from pixelpet.graphql.caching import DocumentCache
from pixelpet.graphql.deadline import operation_budget
from pixelpet.graphql.seam import (
    CannotGetOperationTypeError,
    InvalidOperationTypeError,
    PreExecutionError,
    StrawberryOperationType,
    execute_document,
    get_operation_type,
)
from pixelpet.graphql.telemetry import REFUSED_REQUESTS, OperationRecorder, operation_outcome


class OperationPipeline:
    def __init__(
        self,
        *,
        schema: GraphQLSchema,
        documents: DocumentCache,
        budget_s: float,
        recorder: OperationRecorder | None,
        process_errors: Callable[[list[GraphQLError]], None],
    ) -> None:
        self._core = schema
        self._documents = documents
        self._budget_s = budget_s
        self._recorder = recorder
        self._process_errors = process_errors

    async def execute(
        self,
        query: str | None,
        *,
        variables: dict[str, Any] | None,
        context: Any,
        root_value: Any,
        operation_name: str | None,
        allowed: Collection[StrawberryOperationType],
    ) -> ExecutionResult:
        """The operation's result; raises what strawberry raises for a request that is no operation. Any
        other failure (a bug) is, as in strawberry's ``execute``, the operation's one error: classified
        (INTERNAL_SERVER_ERROR, logged) and recorded as such."""
        run = _Run(query, operation_name)
        recording = self._recorder.start() if self._recorder is not None else None
        try:
            with recording.current() if recording is not None else contextlib.nullcontext():
                return await self._run(run, variables, context, root_value, allowed)
        except REFUSED_REQUESTS:
            run.refused = True
            raise
        except Exception as error:
            failure = (
                error if isinstance(error, GraphQLError) else GraphQLError(str(error), original_error=error)
            )
            return self._refused([failure], run)
        finally:
            if recording is not None:
                operation_type, root, code = run.outcome(self._core, self._documents)
                recording.finish(operation_type, root, run.name, code)

    async def _run(
        self,
        run: "_Run",
        variables: dict[str, Any] | None,
        context: Any,
        root_value: Any,
        allowed: Collection[StrawberryOperationType],
    ) -> ExecutionResult:
        if not run.query:
            raise MissingQueryError
        try:
            run.document = self._documents.parse(run.query)
        except GraphQLError as error:
            run.parse_failed = True
            return self._refused([error], run)
        try:
            operation_type = get_operation_type(run.document, run.operation_name)
        except RuntimeError as error:
            raise CannotGetOperationTypeError(run.operation_name) from error
        if operation_type not in allowed:
            raise InvalidOperationTypeError(operation_type)
        errors = self._documents.validate(self._core, run.document, self._documents.all_rules)
        if errors:
            return self._refused(errors, run)
        with operation_budget(self._budget_s):
            result = await execute_document(
                self._core,
                run.document,
                executor_class=self._documents.plans.executor_class,
                root_value=root_value,
                context=context,
                # As strawberry: unnamed, a document's first operation runs (graphql-core would refuse).
                operation_name=run.name,
                variables=variables,
            )
        if result.errors:
            self._process_errors(result.errors)
        run.errors = result.errors
        return ExecutionResult(data=result.data, errors=result.errors, extensions={})

    def _refused(self, errors: list[GraphQLError], run: "_Run") -> PreExecutionError:
        self._process_errors(errors)
        run.errors = errors
        return PreExecutionError(data=None, errors=errors, extensions={})


class _Run:
    """What one operation's record needs to know, as far as it got."""

    __slots__ = ("document", "errors", "operation_name", "parse_failed", "query", "refused")

    def __init__(self, query: str | None, operation_name: str | None) -> None:
        self.query = query
        self.operation_name = operation_name
        self.document: Any = None
        self.errors: list[GraphQLError] | None = None
        self.parse_failed = False
        self.refused = False

    @property
    def name(self) -> str | None:
        """The operation's name as strawberry reports it: the one asked for, else the first operation's."""
        if self.operation_name is not None or self.document is None:
            return self.operation_name
        first = next((d for d in self.document.definitions if isinstance(d, OperationDefinitionNode)), None)
        return first.name.value if first is not None and first.name is not None else None

    def outcome(self, schema: GraphQLSchema, documents: DocumentCache) -> tuple[str, str, str]:
        return operation_outcome(
            schema,
            self.document,
            self.name,
            self.errors,
            parse_failed=self.parse_failed,
            refused=self.refused,
            roots=documents.root_field,
        )
