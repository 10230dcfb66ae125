"""A connection's unsent messages: written in batches, in order, by one task for every connection that can
take its batch at once; while a batch waits for a connection, the newest state of each thing replaces an
older one of the same thing, never another thing's, and a whole list makes every waiting update moot. A
connection that cannot take a batch in time is cut off."""

import asyncio

from pixelpet.graphql.outbox import BATCH_CHARS, Outbox


class Counted:
    coalesced = 0
    dropped = 0

    def update_coalesced(self) -> None:
        self.coalesced += 1

    def client_dropped(self) -> None:
        self.dropped += 1


class Connection:
    """Records each batch it takes. A full one (``full``) takes nothing at once: a batch sent to it waits
    until ``release`` is set (never, for a client that stopped reading)."""

    def __init__(self, *, full: bool = False) -> None:
        self.batches: list[list[str]] = []
        self.waited: list[bool] = []  # per batch taken: whether its sender would have waited
        self.full = full
        self.release = asyncio.Event()
        self.waiting = asyncio.Event()  # set once a batch waits for the connection

    async def send(self, texts: list[str], *, wait: bool = True) -> None:
        if self.full:
            if not wait:
                raise BlockingIOError
            self.waiting.set()
            await self.release.wait()
            self.full = False
        self.batches.append(list(texts))
        self.waited.append(wait)

    def sent(self) -> list[str]:
        return [text for batch in self.batches for text in batch]


def _outbox(connection: Connection, events: Counted | None = None) -> Outbox:
    return Outbox(connection.send, stall_timeout_s=5, on_stall=lambda: None, events=events or Counted())


async def _held_outbox() -> tuple[Outbox, Connection, Counted]:
    """An outbox whose first batch ("first") waits for a full connection until ``release`` is set."""
    connection = Connection(full=True)
    events = Counted()
    outbox = _outbox(connection, events)
    outbox.put("op", "update", "first")
    await asyncio.wait_for(connection.waiting.wait(), 5)
    return outbox, connection, events


async def _drained(connection: Connection, count: int) -> list[str]:
    async with asyncio.timeout(5):
        while len(connection.sent()) < count:  # noqa: ASYNC110 - the writers run between these yields
            await asyncio.sleep(0)
    return connection.sent()


async def test_everything_waiting_is_sent_in_one_batch_in_the_order_it_was_put() -> None:
    connection = Connection()
    outbox = _outbox(connection)
    for operation in ("1", "2", "3"):
        outbox.put(operation, "update", f"v1 for {operation}")
    outbox.put("2", "complete", "complete 2")
    await _drained(connection, 4)
    assert connection.batches == [["v1 for 1", "v1 for 2", "v1 for 3", "complete 2"]]


async def test_connections_that_take_their_batch_at_once_are_written_by_one_task() -> None:
    connections = [Connection() for _ in range(100)]
    before = len(asyncio.all_tasks())
    for number, connection in enumerate(connections):
        _outbox(connection).put("1", "update", f"to {number}")
    assert len(asyncio.all_tasks()) == before + 1
    for number, connection in enumerate(connections):
        assert await _drained(connection, 1) == [f"to {number}"]


async def test_a_connection_that_cannot_take_its_batch_does_not_hold_up_the_others() -> None:
    _, full, _ = await _held_outbox()
    ready = Connection()
    _outbox(ready).put("1", "update", "for the ready one")
    assert await _drained(ready, 1) == ["for the ready one"]
    assert full.batches == []
    full.release.set()
    assert await _drained(full, 1) == ["first"]


async def test_what_is_put_while_a_batch_waits_goes_in_the_next_one() -> None:
    outbox, connection, _ = await _held_outbox()
    outbox.put("op", "update", "second")
    outbox.put("other", "update", "other op")
    connection.release.set()
    await _drained(connection, 3)
    assert connection.batches == [["first"], ["second", "other op"]]


async def test_a_batch_ends_once_it_holds_enough_and_the_rest_follows_in_order() -> None:
    connection = Connection()
    outbox = _outbox(connection)
    message = "x" * (BATCH_CHARS // 3 + 1)  # three of them are over the limit
    texts = [f"{number}{message}" for number in range(7)]
    for number, text in enumerate(texts):
        outbox.put(str(number), "update", text)
    assert await _drained(connection, 7) == texts
    assert [len(batch) for batch in connection.batches] == [3, 3, 1]


async def test_updates_about_different_pets_never_replace_each_other() -> None:
    outbox, connection, events = await _held_outbox()
    outbox.put("op", "update", "A v2", about="A")
    outbox.put("op", "update", "B v1", about="B")
    outbox.put("op", "update", "A removed", about="A")
    connection.release.set()
    assert await _drained(connection, 3) == ["first", "A removed", "B v1"]
    assert events.coalesced == 1


async def test_a_whole_list_drops_the_updates_still_waiting_and_comes_after_them() -> None:
    outbox, connection, _ = await _held_outbox()
    outbox.put("op", "update", "A v2", about="A")
    outbox.put("other", "update", "other op")
    outbox.put("op", "update", "every pet", supersedes=True)
    outbox.put("op", "update", "B v2", about="B")
    connection.release.set()
    assert await _drained(connection, 4) == ["first", "other op", "every pet", "B v2"]


async def test_an_operations_last_messages_are_never_replaced() -> None:
    outbox, connection, _ = await _held_outbox()
    outbox.put("op", "update", "v2")
    outbox.put("op", "last", "error")
    outbox.put("op", "complete", "complete")
    outbox.put("op", "update", "v3")
    connection.release.set()
    assert await _drained(connection, 4) == ["first", "v3", "error", "complete"]


async def test_once_drained_a_connection_is_written_by_the_shared_task_again() -> None:
    outbox, connection, _ = await _held_outbox()
    connection.release.set()
    await _drained(connection, 1)
    outbox.put("op", "update", "later")
    assert await _drained(connection, 2) == ["first", "later"]
    assert connection.waited == [True, False], "its own task for the first, the shared one after"


async def test_a_connection_that_cannot_take_a_batch_in_time_is_cut_off_once() -> None:
    connection = Connection(full=True)  # never released: the client stopped reading
    events = Counted()
    cut_off = asyncio.Event()
    outbox = Outbox(connection.send, stall_timeout_s=0.05, on_stall=cut_off.set, events=events)
    outbox.put("op", "update", "first")
    await asyncio.wait_for(connection.waiting.wait(), 5)
    outbox.put("op", "update", "second")
    outbox.put("other", "update", "other op")
    await asyncio.wait_for(cut_off.wait(), 5)
    assert events.dropped == 1
    # What waited behind the stalled batch was let go with the connection, never sent.
    assert connection.batches == []


async def test_a_closed_outbox_queued_for_writing_writes_nothing() -> None:
    connection = Connection()
    outbox = _outbox(connection)
    outbox.put("op", "update", "never sent")
    outbox.close()  # before the shared task's turn
    other = Connection()
    _outbox(other).put("op", "update", "sent")
    await _drained(other, 1)  # the shared task has had its turn at both
    assert connection.batches == []
