"""Root-field and cost limits: what counts, and that every document we publish fits."""

import pytest

from pixelpet.graphql.schema import build_schema
from pixelpet.settings import LimitSettings

NODE = "id name mood needs stats { hunger happiness energy asOf }"


async def _errors(query: str, **limits: int) -> list[str]:
    schema = build_schema(LimitSettings(**limits))
    result = await schema.execute(query)
    return [error.message for error in result.errors or []]


def _cost_of(messages: list[str]) -> int:
    (message,) = messages
    return int(message.split(" costs ")[1].split(";")[0])


async def test_a_field_under_a_page_counts_once_per_pet_the_page_can_hold() -> None:
    small = _cost_of(await _errors(f"{{ pets(first: 2) {{ edges {{ node {{ {NODE} }} }} }} }}", max_cost=1))
    large = _cost_of(await _errors(f"{{ pets(first: 20) {{ edges {{ node {{ {NODE} }} }} }} }}", max_cost=1))
    default = _cost_of(await _errors(f"{{ pets {{ edges {{ node {{ {NODE} }} }} }} }}", max_cost=1))
    # pets + 2 * (edges + node + 4 fields + stats + its 4 fields) = 1 + 2 * 11
    assert small == 23
    assert large == 1 + 20 * 11
    assert default == large, "without `first`, its default (20) counts"


async def test_a_page_size_given_as_a_variable_counts_as_the_largest_page() -> None:
    query = "query($n: Int!) { pets(first: $n) { edges { node { id } } } }"
    assert _cost_of(await _errors(query, max_cost=1, max_page_size=100)) == 1 + 100 * 3


async def test_fragments_count_wherever_they_are_spread() -> None:
    query = "fragment F on Pet { id name } { pets(first: 10) { edges { node { ...F ...F } } } }"
    assert _cost_of(await _errors(query, max_cost=1)) == 1 + 10 * (1 + 1 + 4)


async def test_aliased_full_pages_are_refused_for_their_cost() -> None:
    pages = " ".join(f"p{i}: pets(first: 100) {{ edges {{ node {{ {NODE} }} }} }}" for i in range(5))
    (message,) = await _errors("{ " + pages + " }")
    assert message.startswith("The operation costs 5505; at most 5000.")
    assert "`first`" in message, "the refusal says what to change"


async def test_too_many_root_fields_are_refused() -> None:
    roots = " ".join(f'p{i}: pet(id: "{i}") {{ id }}' for i in range(11))
    assert await _errors("query Many { " + roots + " }") == [
        "Operation 'Many' has 11 root fields; at most 10."
    ]
    spread = "fragment Roots on Query { " + roots + " } { ...Roots }"
    assert await _errors(spread) == ["The operation has 11 root fields; at most 10."], "fragments count too"


FULL_PAGE = (
    "{ pets(first: 100) { edges { cursor node { " + NODE + " species activity version createdAt updatedAt } }"
    " pageInfo { hasNextPage endCursor } } }"
)
README_CREATE = (
    'mutation { createPet(input: {name: "Mochi", species: CAT}) { id name mood needs stats { hunger } } }'
)


@pytest.mark.parametrize("query", [FULL_PAGE, README_CREATE])
async def test_the_documents_we_publish_pass_the_default_limits(query: str) -> None:
    schema = build_schema(LimitSettings())
    result = await schema.execute(query)
    codes = {(error.extensions or {}).get("code") for error in result.errors or []}
    assert "GRAPHQL_VALIDATION_FAILED" not in codes, result.errors
