"""Every code the server closes a WebSocket with, and what a client should do (README, decision 21).

graphql-ws (the client behind Apollo's GraphQLWsLink, urql and the Relay recipes) gives up for good on any
1000-1999 code but 1000, 1001, 1005, 1006, 1012, 1013 and 1014, and on its own fatal 4xxx list (4500, 4005,
4400, 4004, 4401, 4406, 4409, 4429), before its retry settings are consulted. So every condition a client
should recover from uses 1012, 1013 or another 4xxx code; fatal codes are kept for client bugs.
"""

from typing import NamedTuple


class CloseCode(NamedTuple):
    code: int
    reason: str


# Retried by graphql-ws: reconnect (with backoff) and subscribe again.
SERVICE_RESTART = CloseCode(1012, "Service restart")  # sent by uvicorn on shutdown (lifecycle.py)
AT_CAPACITY = CloseCode(1013, "Server at capacity; retry later")
TOKEN_EXPIRED = CloseCode(4403, "Token expired")  # reconnect with a fresh token in connection_init
CLIENT_TOO_SLOW = CloseCode(4008, "Client stopped reading; reconnect")  # unsent backlog or unanswered ping

# Fatal in graphql-ws, as they should be: the same request would be refused again.
UNSUPPORTED_PROTOCOL = CloseCode(4406, "Subprotocol not acceptable")
MESSAGE_TOO_BIG = CloseCode(1009, "Message too big")  # sent by uvicorn past PIXELPET_LIMITS__MAX_BODY_BYTES
# Also fatal, from strawberry's protocol handling: 4400 (not a protocol message), 4401 (subscribe before
# the ack), 4409 (duplicate id), 4429 (a second connection_init). Its 4408 (no connection_init in time) is
# retried: the client reconnects and sends it at once.

RETRIED_BY_GRAPHQL_WS = frozenset({1000, 1001, 1005, 1006, 1012, 1013, 1014})
FATAL_4XXX_IN_GRAPHQL_WS = frozenset({4500, 4005, 4400, 4004, 4401, 4406, 4409, 4429})


def graphql_ws_reconnects(code: int) -> bool:
    """Whether a graphql-ws client reconnects after ``code`` (its ``isFatalInternalCloseCode``, negated)."""
    if 1000 <= code <= 1999:
        return code in RETRIED_BY_GRAPHQL_WS
    return code not in FATAL_4XXX_IN_GRAPHQL_WS
