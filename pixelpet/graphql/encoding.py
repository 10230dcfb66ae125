"""JSON for every answer the API sends: orjson's where its text is ASCII, the standard library's otherwise.

A page of 20 pets took the standard library's encoder about 37 µs and takes orjson's about 3 (log entry 39,
decision 25). Where orjson's text is all ASCII, it is the standard library's compact text
(``json.dumps(data, separators=(",", ":"))``, strawberry's encoding) byte for byte, but for one thing: a
float with a negative exponent loses its leading zero (``1e-7`` rather than ``1e-07``; the API has no such
values). Where it is not, or holds DEL (ASCII, which the standard library escapes and orjson does not), the
standard library writes the answer as before, with ``\\u`` escapes: clients that guess a body's charset read
the same ASCII they always did. So does any value orjson refuses:
- a text holding a lone surrogate (a client's ``\\ud800`` escape, echoed in an error message);
- an integer past 64 bits;
- a key that is not text.

orjson also writes some values the standard library refuses (datetimes, dataclasses): none reaches an
answer, which holds what GraphQL's coercion returns (texts, numbers, booleans, lists, maps) and the errors'
extensions this service builds. The same encoder serves the HTTP answers on both paths (post.py's and
strawberry's view: view.py) and the WebSocket messages.
"""

import json

import orjson

_STANDARD = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode


def encode(data: object) -> bytes:
    """``data`` as compact JSON, in ASCII."""
    try:
        encoded = orjson.dumps(data)
    except orjson.JSONEncodeError:
        return _STANDARD(data).encode()
    # DEL is ASCII, but the standard library escapes it (``\\u007f``) where orjson writes it as it is.
    return encoded if encoded.isascii() and b"\x7f" not in encoded else _STANDARD(data).encode()


def encode_text(data: object) -> str:
    """``data`` as compact JSON text (a WebSocket message)."""
    return encode(data).decode()
