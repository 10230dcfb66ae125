"""A slow connection's unsent updates: the newest state of each thing replaces an older one of the same thing,
never another thing's, and a whole list makes every waiting update moot."""

import asyncio

from pixelpet.graphql.outbox import Outbox


class Counted:
    coalesced = 0
    dropped = 0

    def update_coalesced(self) -> None:
        self.coalesced += 1

    def client_dropped(self) -> None:
        self.dropped += 1


async def _held_outbox() -> tuple[Outbox, list[str], asyncio.Event, Counted]:
    """An outbox whose first send blocks until ``release`` is set: everything after it waits."""
    sent: list[str] = []
    release = asyncio.Event()

    async def send(text: str) -> None:
        if not sent:
            sent.append(text)
            await release.wait()
            return
        sent.append(text)

    events = Counted()
    outbox = Outbox(send, stall_timeout_s=5, on_stall=lambda: None, events=events)
    outbox.put("op", "update", "first")
    await asyncio.sleep(0)  # the writer is now stuck sending "first"
    return outbox, sent, release, events


async def _drained(sent: list[str], count: int) -> list[str]:
    async with asyncio.timeout(5):
        while len(sent) < count:  # noqa: ASYNC110 - the writer runs between these yields
            await asyncio.sleep(0)
    return sent


async def test_updates_about_different_pets_never_replace_each_other() -> None:
    outbox, sent, release, events = await _held_outbox()
    outbox.put("op", "update", "A v2", about="A")
    outbox.put("op", "update", "B v1", about="B")
    outbox.put("op", "update", "A removed", about="A")
    release.set()
    assert await _drained(sent, 3) == ["first", "A removed", "B v1"]
    assert events.coalesced == 1


async def test_a_whole_list_drops_the_updates_still_waiting_and_comes_after_them() -> None:
    outbox, sent, release, _ = await _held_outbox()
    outbox.put("op", "update", "A v2", about="A")
    outbox.put("other", "update", "other op")
    outbox.put("op", "update", "every pet", supersedes=True)
    outbox.put("op", "update", "B v2", about="B")
    release.set()
    assert await _drained(sent, 4) == ["first", "other op", "every pet", "B v2"]


async def test_an_operations_last_messages_are_never_replaced() -> None:
    outbox, sent, release, _ = await _held_outbox()
    outbox.put("op", "update", "v2")
    outbox.put("op", "last", "error")
    outbox.put("op", "complete", "complete")
    outbox.put("op", "update", "v3")
    release.set()
    assert await _drained(sent, 4) == ["first", "v3", "error", "complete"]
