"""The one place that says which driver errors mean "the database cannot be reached right now"."""

import contextlib
from collections.abc import Iterator

from pymongo.errors import ConnectionFailure, ExecutionTimeout, PyMongoError, WTimeoutError

from pixelpet.pets.ports import StoreUnavailable


def is_outage(error: BaseException) -> bool:
    """No server to answer, or no answer within the operation's time: retrying later may work."""
    if isinstance(error, ConnectionFailure | ExecutionTimeout | WTimeoutError):
        return True
    return isinstance(error, PyMongoError) and error.timeout


@contextlib.contextmanager
def outages_as_unavailable() -> Iterator[None]:
    """Raise ``StoreUnavailable`` (a client's UNAVAILABLE) for an outage; let every other error through."""
    try:
        yield
    except PyMongoError as error:
        if is_outage(error):
            raise StoreUnavailable(type(error).__name__) from error
        raise
