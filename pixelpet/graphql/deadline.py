"""One budget per operation: every root resolver of it, and every database call they make, share it.

The budget starts when execution starts (after parsing and validation, which are bounded on their own),
so a mutation document running its root fields one after another cannot take ten times as long. A
root resolver past the deadline is cancelled and answers UNAVAILABLE. Each database call keeps its own
timeout (``mongo.timeout_ms``, 2 s): ``pymongo.timeout`` would replace it, not tighten it, so an outage
would answer at the operation's deadline instead of the database's.
"""

import asyncio
import contextlib
import contextvars
from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

from pixelpet.errors import Unavailable

# The current operation's budget and the loop time at which it ends (None: outside an operation).
_deadline: contextvars.ContextVar[tuple[float, float] | None] = contextvars.ContextVar(
    "pixelpet_deadline", default=None
)


def timed_out_message(budget_s: float) -> str:
    return f"The operation did not finish within its {budget_s:g} s budget; retry shortly."


@contextlib.contextmanager
def operation_budget(budget_s: float) -> Iterator[None]:
    """The budget of the operation executed inside, starting now."""
    token = _deadline.set((budget_s, asyncio.get_running_loop().time() + budget_s))
    try:
        yield
    finally:
        _deadline.reset(token)


class OperationDeadline(SchemaExtension):
    """Starts the operation's budget when its execution starts (strawberry's path: see operation.py)."""

    def __init__(self, budget_s: float) -> None:
        super().__init__()
        self._budget_s = budget_s

    def on_execute(self) -> Iterator[None]:
        with operation_budget(self._budget_s):
            yield


def current_deadline() -> tuple[float, float] | None:
    """The current operation's budget and the loop time at which it ends (None outside an operation).
    Raises ``Unavailable`` once that time has passed: a root resolver starting then does not start."""
    current = _deadline.get()
    if current is not None and current[1] <= asyncio.get_running_loop().time():
        raise Unavailable(timed_out_message(current[0]))
    return current
