"""Visits of links with `maxVisits`, reserved in the database a batch at a time.

The cap must hold across processes, so each human visit of a capped link is counted in
the database before its redirect is answered. One UPDATE per visit made every redirect
of a popular capped link a write transaction of its own, and on SQLite, which runs one
writer at a time, every other write queued behind them. Instead each link has at most
one reservation under way in a process: the redirects that arrive meanwhile wait, and
the next UPDATE reserves all of them at once. The writes per link are bounded by round
trips to the database, not by requests, and each is atomic, so the cap stays exact.
"""

import asyncio
from collections.abc import Callable
from typing import Generic, TypeVar, cast

from sqlalchemy import Table, bindparam, select, update

from graphql_api.core.db.engine import Sessionmaker, write_transaction
from graphql_api.links.models import ShortUrl

_links = cast(Table, ShortUrl.__table__)  # declarative types it as any FromClause
# All of `n` or none: the count never passes the cap, and no count is read and written back.
_claim = (
    update(_links)
    .where(
        _links.c.id == bindparam("link_id"),
        _links.c.visit_count + bindparam("n") <= _links.c.max_visits,
    )
    .values(visit_count=_links.c.visit_count + bindparam("n"))
)
_remaining = select(_links.c.max_visits - _links.c.visit_count).where(
    _links.c.id == bindparam("link_id")
)
V = TypeVar("V")


class CapReservations(Generic[V]):
    """Reserves the visits of capped links; the granted ones go to `granted` at once."""

    def __init__(self, sessionmaker: Sessionmaker, granted: Callable[[V], None]) -> None:
        self._sessionmaker = sessionmaker
        self._granted = granted
        self._waiting: dict[int, list[tuple[V, asyncio.Future[bool]]]] = {}
        self._running: dict[int, asyncio.Task[None]] = {}
        self.waiting = 0  # visits not yet granted or refused, those being reserved too

    async def reserve(self, link_id: int, visit: V) -> bool:
        """Count `visit` toward its link's cap; False when the cap is reached.

        A granted visit is handed to `granted` before this returns, and even when the
        caller is cancelled meanwhile: a visit counted is always a visit recorded.
        """
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(link_id, []).append((visit, future))
        self.waiting += 1
        if link_id not in self._running:
            self._running[link_id] = asyncio.create_task(
                self._reserve_waiting(link_id), name=f"visit-caps-{link_id}"
            )
        return await future

    async def _reserve_waiting(self, link_id: int) -> None:
        """One UPDATE for every redirect waiting, again until none is left."""
        try:
            while queue := self._waiting.pop(link_id, []):
                batch = [(visit, future) for visit, future in queue if not future.done()]
                self.waiting -= len(queue) - len(batch)  # their redirects were cancelled
                try:
                    granted = await self._claim(link_id, len(batch))
                except Exception as exc:  # the redirects answer 503
                    granted = 0
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                for n, (visit, future) in enumerate(batch):
                    if n < granted:
                        self._granted(visit)
                    if not future.done():
                        future.set_result(n < granted)
                self.waiting -= len(batch)
        finally:
            del self._running[link_id]

    async def _claim(self, link_id: int, wanted: int) -> int:
        """Add up to `wanted` visits to the link's count, as many as its cap leaves room
        for; how many. Near the cap the room is read and claimed again, until the claim
        holds or no room is left (another process may take it in between)."""
        async with write_transaction(self._sessionmaker) as session:
            n = wanted
            while n > 0:
                result = await session.execute(_claim, {"link_id": link_id, "n": n})
                if result.rowcount:  # type: ignore[attr-defined]  # an UPDATE gives a CursorResult
                    return n
                remaining = await session.scalar(_remaining, {"link_id": link_id})
                n = min(wanted, remaining or 0)  # NULL: the link is gone or no longer capped
        return 0
