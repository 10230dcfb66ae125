"""What wraps every root resolver (each does I/O), as one field extension.

In the order a root field meets them: it is charged to its player's query or mutation rate (after
authenticating them: limits.py), runs within what is left of its operation's budget (deadline.py), and
gets a span, parent of its MongoDB spans, unless the request's span was dropped by the sampler.

One extension rather than one per concern: strawberry wraps each field extension in its own resolver
closure and coroutine, and on a single-pet query the three cost about 4% of its CPU (docs/performance.md,
log entry 29). The concerns' rules stay in their modules; this is only their order.
"""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from strawberry.extensions import FieldExtension
from strawberry.types import Info

from pixelpet.errors import Unavailable
from pixelpet.graphql.deadline import current_deadline, timed_out_message
from pixelpet.telemetry.tracing import below_unsampled_span


class RootResolver(FieldExtension):
    """Charged to the player, within the operation's deadline, traced: see the module's docstring."""

    async def resolve_async(
        self, next_: Callable[..., Awaitable[Any]], source: Any, info: Info[Any, Any], **kwargs: Any
    ) -> Any:
        context = info.context
        context.limits.charge(info.operation.operation, await context.owner())
        current = current_deadline()
        if current is None:  # executed without the deadline's schema extension (a unit test's schema)
            return await _traced(next_, source, info, kwargs)
        budget, deadline = current
        try:
            async with asyncio.timeout_at(deadline):
                return await _traced(next_, source, info, kwargs)
        except TimeoutError as error:
            raise Unavailable(timed_out_message(budget)) from error


def _traced(
    next_: Callable[..., Awaitable[Any]], source: Any, info: Info[Any, Any], kwargs: dict[str, Any]
) -> Awaitable[Any]:
    """The resolver's awaitable, inside a span unless the current one was dropped (then none is made)."""
    if below_unsampled_span():
        return next_(source, info, **kwargs)
    return _in_span(next_, source, info, kwargs)


async def _in_span(
    next_: Callable[..., Awaitable[Any]], source: Any, info: Info[Any, Any], kwargs: dict[str, Any]
) -> Any:
    with info.context.tracer.start_as_current_span(f"{info.path.typename}.{info.field_name}"):
        return await next_(source, info, **kwargs)
