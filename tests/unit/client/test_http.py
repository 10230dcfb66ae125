"""pixelpet/client/http.py: outcomes named from answers, and a post to the real service."""

import httpx
import pytest

from pixelpet.client.http import json_object, outcome, post_graphql
from pixelpet.clock import ManualClock
from pixelpet.settings import Settings
from tests.support.graphql import token_for
from tests.support.server import serving


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, {"data": {"pet": None}}, "OK"),
        (200, {"data": None, "errors": [{"extensions": {"code": "NOT_FOUND"}}]}, "NOT_FOUND"),
        (429, {"errors": [{"message": "slow down", "extensions": {"code": "RATE_LIMITED"}}]}, "RATE_LIMITED"),
        (400, {"errors": [{"message": "no code"}]}, "ERROR"),
        (403, {}, "http_403"),
        (503, {"errors": [{"extensions": {"code": "UNAVAILABLE"}}]}, "http_503"),
        (502, None, "http_502"),
    ],
)
def test_an_outcome_is_ok_the_first_errors_code_or_the_http_status(
    status: int, body: dict[str, object] | None, expected: str
) -> None:
    assert outcome(status, body) == expected


def test_only_a_json_object_is_a_body() -> None:
    assert json_object(b'{"data": {}}') == {"data": {}}
    assert json_object(b"<html>Bad gateway</html>") is None
    assert json_object(b"[1, 2]") is None


async def test_a_post_carries_the_token_and_reads_the_answer(settings: Settings, clock: ManualClock) -> None:
    async with serving(settings, clock) as (url, _), httpx.AsyncClient() as http:
        mine = await post_graphql(
            http, "{ pets(first: 1) { edges { cursor } } }", token=token_for("a"), base_url=url
        )
        anonymous = await post_graphql(http, "{ pets(first: 1) { edges { cursor } } }", base_url=url)
    assert (mine.outcome, mine.data) == ("OK", {"pets": {"edges": []}})
    assert anonymous.outcome == "UNAUTHENTICATED"
    assert anonymous.data is None
