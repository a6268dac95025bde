"""The bookkeeping behind the WebSocket limits (the limits themselves: e2e/test_idle_websockets)."""

import asyncio
import logging

import pytest
from strawberry.http.exceptions import WebSocketDisconnected

from graphql_api.core.http.websocket import Idleness, SocketCounts, TransportWSHandler


def test_an_address_holds_sockets_up_to_its_cap_and_frees_them_on_close() -> None:
    counts = SocketCounts(per_address=2)
    with counts.held("192.0.2.1") as first, counts.held("192.0.2.1") as second:
        with counts.held("192.0.2.1") as third:
            assert (first, second, third) == (True, True, False)
        with counts.held("192.0.2.2") as elsewhere:
            assert elsewhere
    with counts.held("192.0.2.1") as again:
        assert again
    assert not counts._open  # nothing kept for addresses with no socket open


def test_an_ipv6_client_counts_per_64() -> None:
    counts = SocketCounts(per_address=1)
    with counts.held("2001:db8:0:1::1") as first, counts.held("2001:db8:0:1::2") as second:
        assert (first, second) == (True, False)


async def test_a_running_operation_holds_off_idleness() -> None:
    loop = asyncio.get_running_loop()
    idleness = Idleness({})
    idle = asyncio.create_task(idleness.wait(0.2))
    with idleness.busy():
        # A duration, not a wait: busy for longer than the idle time, and idleness must not
        # come meanwhile (if it does, the wait ends early and the test fails at once).
        await asyncio.wait({idle}, timeout=0.5)
        assert not idle.done()
    ended = loop.time()
    await idle
    assert 0.18 <= loop.time() - ended < 0.4  # counted from the end of the operation


async def test_an_operation_taken_in_but_not_started_holds_off_idleness() -> None:
    registered = {"1": "an operation"}  # the handler's map
    idleness = Idleness(registered)
    idle = asyncio.create_task(idleness.wait(0.1))
    await asyncio.wait({idle}, timeout=0.3)  # a duration, as above: three idle times
    assert not idle.done()
    registered.clear()
    await idle


async def test_idleness_counts_from_the_start_without_operations() -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    await Idleness({}).wait(0.2)
    assert 0.18 <= loop.time() - started < 0.4


async def test_an_operation_that_meets_a_gone_client_is_no_error_and_a_fault_is_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    handler = object.__new__(TransportWSHandler)  # the method needs none of its state
    with caplog.at_level(logging.DEBUG):
        await handler.handle_task_exception(WebSocketDisconnected())
        assert [r.levelno for r in caplog.records] == [logging.DEBUG]
        assert caplog.records[0].exc_info is None
        caplog.clear()
        await handler.handle_task_exception(RuntimeError("a real fault"))
    (record,) = caplog.records
    assert record.levelno == logging.ERROR and record.exc_info is not None
