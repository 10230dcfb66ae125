"""The pets API: queries and mutations through the app, in process, on the in-memory store."""

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest

from pixelpet.clock import ManualClock
from pixelpet.pets import rules
from tests.support.graphql import PET_FIELDS, GraphQLClient, create_pet

FEED = f"mutation($id: ID!, $v: Int) {{ feedPet(id: $id, expectedVersion: $v) {{ {PET_FIELDS} }} }}"
PLAY = f"mutation($id: ID!) {{ playWithPet(id: $id) {{ {PET_FIELDS} }} }}"
SLEEP = f"mutation($id: ID!) {{ putPetToSleep(id: $id) {{ {PET_FIELDS} }} }}"
WAKE = f"mutation($id: ID!) {{ wakePet(id: $id) {{ {PET_FIELDS} }} }}"
GET = f"query($id: ID!) {{ pet(id: $id) {{ {PET_FIELDS} }} }}"
LIST = """query($first: Int, $after: String) {
  pets(first: $first, after: $after) { edges { cursor node { id name } } pageInfo { hasNextPage endCursor } }
}"""


async def test_a_new_pet_can_be_read_back(client: GraphQLClient) -> None:
    created = await create_pet(client, name="  Mochi ", species="DRAGON")
    assert created["name"] == "Mochi"
    assert created["version"] == 1
    assert created["stats"] == {
        "hunger": 20,
        "happiness": 80,
        "energy": 80,
        "asOf": "2026-06-01T12:00:00+00:00",
    }
    fetched = (await client.execute(GET, {"id": created["id"]})).data["pet"]
    assert fetched == created


async def test_stats_keep_changing_while_nobody_looks(client: GraphQLClient, clock: ManualClock) -> None:
    pet = await create_pet(client, species="CAT")
    clock.advance(timedelta(hours=7))
    later = (await client.execute(GET, {"id": pet["id"]})).data["pet"]
    cat = rules.SPECIES_RATES[rules.Species.CAT]
    assert later["stats"]["hunger"] == 20 + 7 * cat.hunger_awake  # 62
    assert later["stats"]["energy"] == 80 - 7 * cat.energy_loss_awake  # 24
    assert later["needs"] == ["FOOD", "REST"]
    assert later["version"] == 1, "time alone writes nothing"


async def test_care_actions_change_the_pet_and_bump_its_version(
    client: GraphQLClient, clock: ManualClock
) -> None:
    pet = await create_pet(client)
    clock.advance(timedelta(hours=4))  # hunger 44, energy 48
    fed = (await client.execute(FEED, {"id": pet["id"]})).data["feedPet"]
    assert (fed["stats"]["hunger"], fed["version"]) == (9, 2)
    played = (await client.execute(PLAY, {"id": pet["id"]})).data["playWithPet"]
    assert played["stats"]["energy"] == fed["stats"]["energy"] - 15
    asleep = (await client.execute(SLEEP, {"id": pet["id"]})).data["putPetToSleep"]
    assert (asleep["activity"], asleep["mood"]) == ("ASLEEP", "SLEEPING")
    awake = (await client.execute(WAKE, {"id": pet["id"]})).data["wakePet"]
    assert (awake["activity"], awake["version"]) == ("AWAKE", 5)
    renamed = await client.execute(
        f'mutation($id: ID!) {{ renamePet(id: $id, name: "Pixel") {{ {PET_FIELDS} }} }}', {"id": pet["id"]}
    )
    assert (renamed.data["renamePet"]["name"], renamed.data["renamePet"]["version"]) == ("Pixel", 6)


async def test_a_refused_action_says_why_and_changes_nothing(client: GraphQLClient) -> None:
    pet = await create_pet(client)
    await client.execute(FEED, {"id": pet["id"]})  # hunger 20 -> 0
    refused = await client.execute(FEED, {"id": pet["id"]})
    assert refused.code == "ACTION_REFUSED"
    assert refused.error["extensions"]["reason"] == "NOT_HUNGRY"
    assert refused.body["data"] is None
    after = (await client.execute(GET, {"id": pet["id"]})).data["pet"]
    assert after["version"] == 2


async def test_a_stale_expected_version_is_a_conflict(client: GraphQLClient, clock: ManualClock) -> None:
    pet = await create_pet(client)
    clock.advance(timedelta(hours=10))
    assert (await client.execute(FEED, {"id": pet["id"], "v": 1})).data["feedPet"]["version"] == 2
    stale = await client.execute(FEED, {"id": pet["id"], "v": 1})
    assert stale.code == "CONFLICT"
    assert stale.error["extensions"]["currentVersion"] == 2


async def test_fifty_concurrent_feeds_lose_nothing(client: GraphQLClient, clock: ManualClock) -> None:
    pet = await create_pet(client, species="CAT")
    clock.advance(timedelta(hours=13))  # hunger 20 + 13 * 6 = 98
    results = await asyncio.gather(*(client.execute(FEED, {"id": pet["id"]}) for _ in range(50)))
    fed = [r for r in results if not r.body.get("errors")]
    refused = [r for r in results if r.body.get("errors")]
    # 98 -> 63 -> 28 -> 0, then the pet is full: exactly three feeds, each applied once.
    assert len(fed) == 3
    assert sorted(r.data["feedPet"]["version"] for r in fed) == [2, 3, 4]
    assert {(r.code, r.error["extensions"]["reason"]) for r in refused} == {("ACTION_REFUSED", "NOT_HUNGRY")}
    final = (await client.execute(GET, {"id": pet["id"]})).data["pet"]
    assert final["version"] == 4
    assert final["stats"]["hunger"] == 0
    energy_after_13h = 0  # 80 - 13 * 8 is clamped at 0
    assert final["stats"]["energy"] == energy_after_13h + 3 * 5


async def test_pets_are_listed_in_pages_with_opaque_cursors(
    client: GraphQLClient, clock: ManualClock
) -> None:
    names = [f"pet{i}" for i in range(5)]
    for name in names:
        await create_pet(client, name=name)
        clock.advance(timedelta(milliseconds=1 if name != "pet2" else 0))  # a tie in creation time too
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        page = (await client.execute(LIST, {"first": 2, "after": after})).data["pets"]
        seen += [edge["node"]["name"] for edge in page["edges"]]
        pages += 1
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
        assert after == page["edges"][-1]["cursor"]
    assert (seen, pages) == (names, 3)


async def test_page_size_and_cursors_are_validated(client: GraphQLClient) -> None:
    too_big = await client.execute(LIST, {"first": 101})
    assert too_big.code == "BAD_USER_INPUT"
    bogus = await client.execute(LIST, {"first": 2, "after": "not-a-cursor"})
    assert bogus.code == "BAD_USER_INPUT"


async def test_owners_never_see_each_others_pets(client: GraphQLClient) -> None:
    pet = await create_pet(client)
    mallory = client.as_owner("mallory")
    hidden = await mallory.execute(GET, {"id": pet["id"]})
    assert hidden.code == "NOT_FOUND"
    assert hidden.body["data"] == {"pet": None}
    assert (await mallory.execute(FEED, {"id": pet["id"]})).code == "NOT_FOUND"
    assert (
        await mallory.execute("mutation($id: ID!) { deletePet(id: $id) }", {"id": pet["id"]})
    ).code == "NOT_FOUND"
    assert (await mallory.execute(LIST)).data["pets"]["edges"] == []
    assert (await client.execute(GET, {"id": pet["id"]})).data["pet"]["version"] == 1


async def test_requests_without_a_valid_token_are_unauthenticated(client: GraphQLClient) -> None:
    anonymous = client.as_owner(None)
    assert (await anonymous.execute(LIST)).code == "UNAUTHENTICATED"
    forged = await anonymous.execute(LIST, headers={"Authorization": "Bearer not.a.jwt"})
    assert forged.code == "UNAUTHENTICATED"


async def test_a_deleted_pet_is_gone(client: GraphQLClient) -> None:
    pet = await create_pet(client)
    deleted = await client.execute("mutation($id: ID!) { deletePet(id: $id) }", {"id": pet["id"]})
    assert deleted.data == {"deletePet": pet["id"]}
    assert (await client.execute(GET, {"id": pet["id"]})).code == "NOT_FOUND"
    again = await client.execute("mutation($id: ID!) { deletePet(id: $id) }", {"id": pet["id"]})
    assert again.code == "NOT_FOUND"


async def test_bad_input_gets_typed_errors(client: GraphQLClient) -> None:
    assert (await client.execute(GET, {"id": "nope"})).code == "BAD_USER_INPUT"
    empty_name = await client.execute('mutation { createPet(input: {name: "   ", species: CAT}) { id } }')
    assert empty_name.code == "BAD_USER_INPUT"
    unknown_species = await client.execute(
        "mutation($input: CreatePetInput!) { createPet(input: $input) { id } }",
        {"input": {"name": "x", "species": "UNICORN"}},
    )
    assert unknown_species.code == "BAD_USER_INPUT"
    assert "UNICORN" in unknown_species.error["message"]


async def test_syntax_and_validation_errors_stay_readable(client: GraphQLClient) -> None:
    syntax = await client.execute("{ pets { ")
    assert syntax.code == "GRAPHQL_PARSE_FAILED"
    assert "Syntax Error" in syntax.error["message"]
    unknown = await client.execute("{ pets { edges { node { wings } } } }")
    assert unknown.code == "GRAPHQL_VALIDATION_FAILED"
    assert "wings" in unknown.error["message"]


async def test_deep_and_alias_heavy_queries_are_refused(client: GraphQLClient) -> None:
    deep = "{ pets { edges { node { stats { asOf } } } } }"
    assert not (await client.execute(deep)).body.get("errors")
    aliases = " ".join(f"a{i}: pets {{ pageInfo {{ hasNextPage }} }}" for i in range(16))
    refused = await client.execute(f"{{ {aliases} }}")
    assert refused.body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_the_same_idempotency_key_returns_the_same_pet(client: GraphQLClient) -> None:
    first = await create_pet(client, idempotencyKey="k-1")
    retries = await asyncio.gather(*(create_pet(client, idempotencyKey="k-2") for _ in range(10)))
    assert (await create_pet(client, idempotencyKey="k-1"))["id"] == first["id"]
    assert len({pet["id"] for pet in retries}) == 1
    listed = (await client.execute(LIST, {"first": 100})).data["pets"]["edges"]
    assert len(listed) == 2


async def test_an_idempotency_key_reused_for_another_pet_is_a_conflict(client: GraphQLClient) -> None:
    await create_pet(client, name="Mochi", idempotencyKey="k")
    response = await client.execute(
        "mutation($input: CreatePetInput!) { createPet(input: $input) { id } }",
        {"input": {"name": "Other", "species": "CAT", "idempotencyKey": "k"}},
    )
    assert response.code == "CONFLICT"


async def _create_many(client: GraphQLClient, count: int) -> list[dict[str, Any]]:
    query = "mutation($input: CreatePetInput!) { createPet(input: $input) { id } }"
    return [
        r.body
        for r in await asyncio.gather(
            *(client.execute(query, {"input": {"name": f"p{i}", "species": "DOG"}}) for i in range(count))
        )
    ]


# Retry-safe changes (docs/decisions/0020-retry-safe-actions.md): every mutation takes an idempotency key.


def _keyed(field: str, arguments: str = "", variables: str = "", selection: str = PET_FIELDS) -> str:
    """A mutation on ``$id`` with ``$key`` as its idempotency key."""
    chosen = f" {{ {selection} }}" if selection else ""
    return (
        f"mutation($id: ID!, $key: String{variables}) "
        f"{{ {field}(id: $id, idempotencyKey: $key{arguments}){chosen} }}"
    )


KEYED = {
    "feedPet": _keyed("feedPet"),
    "playWithPet": _keyed("playWithPet"),
    "putPetToSleep": _keyed("putPetToSleep"),
    "wakePet": _keyed("wakePet"),
    "renamePet": _keyed("renamePet", ', name: "Pixel"'),
    "deletePet": _keyed("deletePet", ", expectedVersion: $v", ", $v: Int", selection=""),
}


@pytest.mark.parametrize("mutation", list(KEYED))
async def test_every_mutation_retried_with_its_key_answers_as_the_first_time_and_acts_once(
    client: GraphQLClient, clock: ManualClock, mutation: str
) -> None:
    pet = await create_pet(client)
    clock.advance(timedelta(hours=4))  # hungry, and tired enough for a nap
    if mutation == "wakePet":
        await client.execute(SLEEP, {"id": pet["id"]})
    before = (await client.execute(GET, {"id": pet["id"]})).data["pet"]["version"]
    first = await client.execute(KEYED[mutation], {"id": pet["id"], "key": f"{mutation}-1"})
    assert not first.body.get("errors"), first.body
    clock.advance(timedelta(hours=1))  # later: the pet's stats moved on, the answer does not
    retried = await client.execute(KEYED[mutation], {"id": pet["id"], "key": f"{mutation}-1"})
    assert retried.body == first.body
    after = await client.execute(GET, {"id": pet["id"]})
    if mutation == "deletePet":
        assert retried.data == {"deletePet": pet["id"]}, "the id again, although the pet is gone"
        assert after.code == "NOT_FOUND"
    else:
        assert after.data["pet"]["version"] == before + 1, "acted once"


async def test_a_key_reused_for_another_mutation_or_pet_is_a_conflict(
    client: GraphQLClient, clock: ManualClock
) -> None:
    pet, other = await create_pet(client), await create_pet(client)
    clock.advance(timedelta(hours=4))
    assert not (await client.execute(KEYED["feedPet"], {"id": pet["id"], "key": "k"})).body.get("errors")
    for mutation, target in [
        ("feedPet", other),
        ("playWithPet", pet),
        ("renamePet", pet),
        ("deletePet", pet),
    ]:
        reused = await client.execute(KEYED[mutation], {"id": target["id"], "key": "k"})
        assert reused.code == "CONFLICT", mutation
        assert "different request" in reused.error["message"]
    adopted = await client.execute(
        "mutation($input: CreatePetInput!) { createPet(input: $input) { id } }",
        {"input": {"name": "Mochi", "species": "CAT", "idempotencyKey": "k"}},
    )
    assert adopted.code == "CONFLICT"
    versions = [(await client.execute(GET, {"id": p["id"]})).data["pet"]["version"] for p in (pet, other)]
    assert versions == [2, 1]
    assert (await client.as_owner("bob").execute(LIST)).data["pets"]["edges"] == []


async def test_a_refused_action_is_not_remembered(client: GraphQLClient, clock: ManualClock) -> None:
    pet = await create_pet(client)
    await client.execute(FEED, {"id": pet["id"]})  # full
    refused = await client.execute(KEYED["feedPet"], {"id": pet["id"], "key": "k"})
    assert (refused.code, refused.error["extensions"]["reason"]) == ("ACTION_REFUSED", "NOT_HUNGRY")
    again = await client.execute(KEYED["feedPet"], {"id": pet["id"], "key": "k"})
    assert (again.error["message"], again.error["extensions"]["reason"]) == (
        refused.error["message"],
        "NOT_HUNGRY",
    )
    clock.advance(timedelta(hours=8))
    fed = await client.execute(KEYED["feedPet"], {"id": pet["id"], "key": "k"})
    assert fed.data["feedPet"]["version"] == 3, "decided afresh: the rules allow it now, once"


async def test_rename_and_delete_take_an_expected_version(client: GraphQLClient) -> None:
    pet = await create_pet(client)
    rename = _keyed("renamePet", ', name: "Rex", expectedVersion: $v', ", $v: Int", selection="name version")
    stale = await client.execute(rename, {"id": pet["id"], "v": 2})
    assert (stale.code, stale.error["extensions"]["currentVersion"]) == ("CONFLICT", 1)
    assert (await client.execute(rename, {"id": pet["id"], "v": 1})).data["renamePet"] == {
        "name": "Rex",
        "version": 2,
    }
    kept = await client.execute(KEYED["deletePet"], {"id": pet["id"], "v": 1})
    assert (kept.code, kept.error["extensions"]["currentVersion"]) == ("CONFLICT", 2)
    assert (await client.execute(GET, {"id": pet["id"]})).data["pet"]["name"] == "Rex", "nothing deleted"
    assert (await client.execute(KEYED["deletePet"], {"id": pet["id"], "v": 2})).data == {
        "deletePet": pet["id"]
    }


async def test_concurrent_retries_with_one_key_act_once(client: GraphQLClient, clock: ManualClock) -> None:
    pet = await create_pet(client)
    clock.advance(timedelta(hours=4))  # hungry enough for one feed only
    results = await asyncio.gather(
        *(client.execute(KEYED["feedPet"], {"id": pet["id"], "key": "k"}) for _ in range(10))
    )
    assert len({str(result.body) for result in results}) == 1, "every attempt got the one answer"
    assert results[0].data["feedPet"]["version"] == 2
    assert (await client.execute(GET, {"id": pet["id"]})).data["pet"]["version"] == 2


FORECAST = """query($id: ID!) { pet(id: $id) {
  needs stats { asOf }
  forecast(hours: 24) { until events { at kind mood need action reason } }
  drift { hunger happiness energy until }
} }"""


async def test_a_forecast_says_when_a_need_shows_and_the_pet_then_shows_it(
    client: GraphQLClient, clock: ManualClock
) -> None:
    pet = await create_pet(client, species="CAT")
    read = (await client.execute(FORECAST, {"id": pet["id"]})).data["pet"]
    cat = rules.SPECIES_RATES[rules.Species.CAT]
    assert read["drift"] == {
        "hunger": cat.hunger_awake,
        "happiness": -cat.happiness_loss,
        "energy": -cat.energy_loss_awake,
        "until": read["drift"]["until"],
    }
    events = read["forecast"]["events"]
    assert events == sorted(events, key=lambda event: event["at"])
    (hungry,) = [e for e in events if e["kind"] == "NEED_STARTS" and e["need"] == "FOOD"]
    due = datetime.fromisoformat(hungry["at"])
    clock.advance(due - clock.now() - timedelta(milliseconds=2))
    before = (await client.execute(GET, {"id": pet["id"]})).data["pet"]
    assert "FOOD" not in before["needs"]
    clock.advance(timedelta(milliseconds=2))
    after = (await client.execute(GET, {"id": pet["id"]})).data["pet"]
    assert "FOOD" in after["needs"], "the need shows at the forecast instant, not before"


async def test_a_forecast_horizon_out_of_range_is_bad_input(client: GraphQLClient) -> None:
    pet = await create_pet(client)
    refused = await client.execute(
        "query($id: ID!) { pet(id: $id) { forecast(hours: 1000) { until } } }", {"id": pet["id"]}
    )
    assert refused.code == "BAD_USER_INPUT"


async def test_a_stale_expected_version_shows_the_pet_as_it_is(
    client: GraphQLClient, clock: ManualClock
) -> None:
    pet = await create_pet(client)
    clock.advance(timedelta(hours=4))
    await client.execute(FEED, {"id": pet["id"]})
    clock.advance(timedelta(minutes=30))
    now = (await client.execute(GET, {"id": pet["id"]})).data["pet"]
    rename = _keyed("renamePet", ', name: "Rex", expectedVersion: $v', ", $v: Int")
    for stale in (
        await client.execute(FEED, {"id": pet["id"], "v": 1}),
        await client.execute(rename, {"id": pet["id"], "v": 1}),
        await client.execute(KEYED["deletePet"], {"id": pet["id"], "v": 1}),
    ):
        assert stale.code == "CONFLICT"
        assert stale.error["extensions"]["currentVersion"] == 2
        assert stale.error["extensions"]["current"] == now, (
            "what `pet(id)` returns, every field of PET_FIELDS"
        )
