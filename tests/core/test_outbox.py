"""A socket's outbox (`core.http.outbox`): written at once when the socket takes it, queued
for that socket alone when it does not, cut off past OUTBOX_SIZE, drained in order."""

import asyncio

from graphql_api.core.graphql.fanout import OUTBOX_BYTES, OUTBOX_SIZE
from graphql_api.core.http.outbox import Outbox


class Socket:
    """A socket whose writes wait while `full` is set, as uvicorn's wait for a full buffer."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.room = asyncio.Event()
        self.room.set()
        self.gone = False

    async def send(self, text: str) -> None:
        await self.room.wait()
        if self.gone:
            raise RuntimeError("Cannot call send once a close message has been sent.")
        self.sent.append(text)


async def test_a_socket_that_takes_a_frame_has_it_at_once() -> None:
    socket = Socket()
    outbox = Outbox(socket.send)
    assert outbox.write("a") and outbox.write("b")
    assert socket.sent == ["a", "b"]  # before the loop ran anything else


async def test_a_full_socket_queues_its_own_frames_and_holds_up_no_other() -> None:
    slow, fast = Socket(), Socket()
    slow.room.clear()
    slow_box, fast_box = Outbox(slow.send), Outbox(fast.send)
    for n in range(10):
        assert slow_box.write(f"s{n}")
        assert fast_box.write(f"f{n}")
    assert fast.sent == [f"f{n}" for n in range(10)]
    assert slow.sent == []
    slow.room.set()
    await asyncio.wait_for(slow_box.drained(), 2)
    assert slow.sent == [f"s{n}" for n in range(10)]  # in order, none lost
    assert slow_box.write("after") and slow.sent[-1] == "after"  # and at once again


async def test_past_the_limit_a_write_is_refused() -> None:
    socket = Socket()
    socket.room.clear()
    outbox = Outbox(socket.send)
    assert outbox.write("first")  # started, waiting for room
    assert all(outbox.write(f"q{n}") for n in range(OUTBOX_SIZE))
    assert not outbox.write("one too many")
    socket.room.set()
    await asyncio.wait_for(outbox.drained(), 2)
    assert len(socket.sent) == 1 + OUTBOX_SIZE and "one too many" not in socket.sent


async def test_a_client_that_went_takes_nothing_more_and_drains_at_once() -> None:
    socket = Socket()
    socket.gone = True
    outbox = Outbox(socket.send)
    assert outbox.write("lost")  # not a slow consumer: the handler ends its operations
    assert outbox.gone and socket.sent == []
    socket.room.clear()
    assert outbox.write("still nothing")
    await asyncio.wait_for(outbox.drained(), 2)

    waiting = Socket()
    waiting.room.clear()
    queued = Outbox(waiting.send)
    assert queued.write("a") and queued.write("b")
    waiting.gone = True
    waiting.room.set()
    await asyncio.wait_for(queued.drained(), 2)
    assert queued.gone and waiting.sent == []


async def test_past_the_byte_budget_a_write_is_refused() -> None:
    """Few frames, but large ones (a selection of a room's history): bytes count too."""
    socket = Socket()
    socket.room.clear()
    outbox = Outbox(socket.send)
    big = "x" * (OUTBOX_BYTES // 2 + 1)
    assert outbox.write("first")  # started, waiting for room
    assert outbox.write(big)
    assert not outbox.write(big)
    socket.room.set()
    await asyncio.wait_for(outbox.drained(), 2)
    assert socket.sent == ["first", big]


async def test_closing_drops_what_waits_and_ends_the_writer() -> None:
    socket = Socket()
    socket.room.clear()
    outbox = Outbox(socket.send)
    assert outbox.write("a") and outbox.write("b")
    outbox.close()
    await asyncio.wait_for(outbox.drained(), 2)  # a write that would wait for ever does not
    socket.room.set()
    assert outbox.write("c") and socket.sent == []
