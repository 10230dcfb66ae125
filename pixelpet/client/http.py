"""GraphQL over HTTP with httpx, and one name for each answer's outcome.

The outcome names what a player would have seen: ``OK``, the first error's code (``RATE_LIMITED``,
``NOT_FOUND``...), or ``http_<status>`` when the answer is no GraphQL response at all (a 5xx, a proxy's
error page). Load reports count these names, so every generator must name answers the same way.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx


def outcome(status: int, body: Mapping[str, Any] | None) -> str:
    """The outcome of an answer with HTTP ``status`` and JSON ``body`` (None when it was not JSON)."""
    if status >= 500 or body is None:
        return f"http_{status}"
    errors = body.get("errors")
    if errors:
        return str(errors[0].get("extensions", {}).get("code", "ERROR"))
    return "OK" if status == 200 else f"http_{status}"


def json_object(content: bytes) -> dict[str, Any] | None:
    """``content`` parsed as a JSON object, or None when it is not one."""
    try:
        parsed = json.loads(content)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any] | None

    @property
    def outcome(self) -> str:
        return outcome(self.status, self.body)

    @property
    def data(self) -> dict[str, Any] | None:
        data = self.body.get("data") if self.body else None
        return data if isinstance(data, dict) else None


async def post_graphql(
    http: httpx.AsyncClient,
    query: str,
    variables: Mapping[str, Any] | None = None,
    *,
    token: str | None = None,
    base_url: str = "",
) -> Answer:
    """POSTs one operation to ``base_url``/graphql (relative to the client's own base URL by default)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await http.post(
        f"{base_url}/graphql", json={"query": query, "variables": dict(variables or {})}, headers=headers
    )
    return Answer(response.status_code, json_object(response.content))
