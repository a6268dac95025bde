"""Waiting on a condition, not for a while: poll it until it holds or a deadline passes.

A test that waits for something (a subscription registered, a buffer written, a port
open) waits on that something, as long as it takes and no longer; one that sleeps a
guessed while either wastes the time or fails on a busy machine. A pause that is itself
the behaviour under test (a socket left idle, a slow client) is a sleep, with a comment.
"""

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")
TIMEOUT = 10.0  # generous: the condition usually holds at once, and a wait ends when it does
INTERVAL = 0.02


class StillNot(AssertionError):
    """The condition did not come to hold before the deadline."""


def _failure(what: str | Callable[[], object], within: float, value: object) -> StillNot:
    said = what() if callable(what) else what
    return StillNot(f"{said}: still not so after {within} s (last seen: {value!r})")


async def eventually(
    probe: Callable[[], T | Awaitable[T]],
    until: Callable[[T], object] = bool,
    *,
    within: float = TIMEOUT,
    interval: float = INTERVAL,
    what: str | Callable[[], object] = "the condition",
) -> T:
    """`probe()` (awaited if it is a coroutine) until `until` holds for its value; that value.

    Raises StillNot (an AssertionError) naming `what` and the last value after `within` seconds.
    """
    deadline = time.monotonic() + within
    while True:
        value: Any = probe()
        if inspect.isawaitable(value):
            value = await value
        if until(value):
            return value  # type: ignore[no-any-return]
        if time.monotonic() > deadline:
            raise _failure(what, within, value)
        await asyncio.sleep(interval)  # the polling interval of the wait


def wait_until(
    probe: Callable[[], T],
    until: Callable[[T], object] = bool,
    *,
    within: float = TIMEOUT,
    interval: float = INTERVAL,
    what: str | Callable[[], object] = "the condition",
) -> T:
    """`eventually` for code without an event loop (sync tests, blocking probes)."""
    deadline = time.monotonic() + within
    while True:
        value = probe()
        if until(value):
            return value
        if time.monotonic() > deadline:
            raise _failure(what, within, value)
        time.sleep(interval)  # the polling interval of the wait
