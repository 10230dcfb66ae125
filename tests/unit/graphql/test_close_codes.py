"""Every close a client should recover from is one graphql-ws reconnects after; fatal codes are client bugs.

The rules are graphql-ws's `isFatalInternalCloseCode` (its source, and ../shared/FACTS.md): every 1000-1999
code but 1000, 1001, 1005, 1006, 1012, 1013 and 1014 is fatal, and so are 4500, 4005, 4400, 4004, 4401,
4406, 4409 and 4429; any other 4xxx goes through its retry policy.
"""

import pytest

from pixelpet.graphql import close_codes
from pixelpet.graphql.close_codes import CloseCode, graphql_ws_reconnects


@pytest.mark.parametrize(
    "close",
    [
        close_codes.SERVICE_RESTART,
        close_codes.AT_CAPACITY,
        close_codes.TOKEN_EXPIRED,
        close_codes.CLIENT_TOO_SLOW,
    ],
    ids=lambda close: close.reason,
)
def test_what_a_client_should_recover_from_is_retried(close: CloseCode) -> None:
    assert graphql_ws_reconnects(close.code)


@pytest.mark.parametrize(
    "close", [close_codes.UNSUPPORTED_PROTOCOL, close_codes.MESSAGE_TOO_BIG], ids=lambda close: close.reason
)
def test_client_bugs_are_fatal(close: CloseCode) -> None:
    assert not graphql_ws_reconnects(close.code)


def test_the_rules_as_graphql_ws_has_them() -> None:
    assert not graphql_ws_reconnects(1008), "policy violation: given up for good"
    assert not graphql_ws_reconnects(1011), "uvicorn's keepalive close, which server.py replaces"
    assert graphql_ws_reconnects(1006)
    assert not graphql_ws_reconnects(4429)
    assert graphql_ws_reconnects(4408)
