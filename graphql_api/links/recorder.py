"""Visits are buffered in memory and written in batches.

A redirect only appends to a list; a background task writes what has come in, in
transactions of up to BATCH visits: multi-row INSERTs of visits and one `visit_count =
visit_count + n` per link. A popular link thus costs one row update per batch, not per
request, and no count is ever read, changed and written back, so concurrent batches
(from other processes, too) never lose an update. Links with `maxVisits` are the
exception: their visits are counted before the redirect answers (see `caps`).

The buffer is bounded, so that a hard kill loses little: a flush starts every
`interval`, and at once when a quarter of `capacity` is waiting. When `capacity` visits
are not written yet, a redirect waits for the database to take some (backpressure: the
rate of redirects falls to what the database can write), and past `wait` it is refused
(503) rather than answered unrecorded. A visit is never dropped once its redirect is
answered, so counts stay exact; a SIGKILL loses at most the visits not written yet:
fewer than `capacity`, and while the database keeps up, those of about the last
`interval`. A graceful stop writes them all; none is ever counted twice.
"""

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from graphql_api.core.broker import Broker
from graphql_api.core.db.engine import Sessionmaker, write_transaction
from graphql_api.links.agents import Agent, classify
from graphql_api.links.caps import CapReservations
from graphql_api.links.models import ShortUrl, Visit

logger = logging.getLogger("graphql_api.links")

_links = cast(Table, ShortUrl.__table__)  # declarative types it as any FromClause
_increment = (
    update(_links)
    .where(_links.c.id == bindparam("link_id"))
    .values(visit_count=_links.c.visit_count + bindparam("visits"))
)


# Visits per INSERT, at most; between chunks the event loop serves requests. A power of two,
# and so is every shorter chunk (`_chunks`).
CHUNK = 256
# Visits per transaction: what one flush holds in memory at once stays small however many
# visits came in while the last flush ran (under a burst, tens of thousands).
BATCH = 8 * CHUNK
_visits = cast(Table, Visit.__table__)
_insert_visits = insert(_visits).returning(*_visits.c)


def _chunks(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """`rows` in chunks of CHUNK, and what is left in chunks of the powers of two it sums
    to (100 rows: 64, 32 and 4). Each chunk is one multi-row INSERT, a statement of its
    own, and each connection keeps the statements it prepared (the drivers' caches, 100 or
    128 of them). A statement per remainder filled those caches with up to 128 INSERTs of
    a few hundred rows each, megabytes per connection; nine shapes stay nine."""
    start = 0
    while start < len(rows):
        size = min(CHUNK, 1 << ((len(rows) - start).bit_length() - 1))
        yield rows[start : start + size]
        start += size


def visits_channel(link_id: int) -> str:
    return f"visits:{link_id}"


@dataclass(slots=True)
class PendingVisit:
    link_id: int
    visited_at: datetime
    referrer: str | None
    user_agent: str | None
    counted: bool  # a human visit of a capped link: added to visit_count as it is reserved


def _classify(visits: list[PendingVisit]) -> list[Agent]:
    return [classify(v.user_agent) for v in visits]


class VisitsBacklogged(Exception):
    """The buffer stayed full for `wait`: the database takes visits slower than they come."""


class VisitRecorder:
    def __init__(
        self,
        sessionmaker: Sessionmaker,
        broker: Broker,
        *,
        interval: float = 0.2,
        capacity: int = 2000,
        wait: float = 5.0,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._broker = broker
        self._interval = interval
        self._capacity = capacity
        self._flush_at = max(1, capacity // 4)
        self._wait = wait
        self._pending: list[PendingVisit] = []
        self._writing: list[PendingVisit] = []  # taken by the flush under way
        self._written = 0  # of them, committed
        self._caps = CapReservations[PendingVisit](sessionmaker, self._append)
        self._task: asyncio.Task[None] | None = None
        self._flush_lock = asyncio.Lock()
        self._wake = asyncio.Event()  # a flush is wanted now, not at the next tick
        self._room = asyncio.Event()  # set (and replaced) whenever visits are written
        self._stopping = asyncio.Event()

    @property
    def pending(self) -> int:
        """Visits answered and not written yet: what a hard kill would lose."""
        return len(self._pending) + len(self._writing) - self._written

    async def record(self, visit: PendingVisit) -> bool:
        """Buffer a visit once there is room for it. A human visit of a capped link is
        counted toward the cap first: False, and nothing recorded, when it is reached."""
        if not self._has_room():
            await self._wait_for_room()
        if visit.counted:
            return await self._caps.reserve(visit.link_id, visit)
        self._append(visit)
        return True

    def _append(self, visit: PendingVisit) -> None:
        self._pending.append(visit)
        if len(self._pending) >= self._flush_at:
            self._wake.set()

    def _has_room(self) -> bool:
        # Visits waiting for their reservation take room too: they are buffered next.
        return self.pending + self._caps.waiting < self._capacity

    async def _wait_for_room(self) -> None:
        """Until the flush has written enough; VisitsBacklogged past `wait`."""
        try:
            async with asyncio.timeout(self._wait):
                while not self._has_room():
                    self._wake.set()
                    await self._room.wait()
        except TimeoutError:
            raise VisitsBacklogged from None

    def _made_room(self) -> None:
        self._room.set()
        self._room = asyncio.Event()

    async def flush(self) -> None:
        """Write everything buffered so far, a transaction per BATCH visits, each published
        once written; on failure, what was not written stays buffered for the next try."""
        async with self._flush_lock:
            self._writing, self._pending = self._pending, []
            batch, in_flight = self._writing, 0
            try:
                while self._written < len(batch):
                    part = await self._rows(batch[self._written : self._written + BATCH])
                    in_flight = len(part)
                    rows = await self._write(part)
                    self._written, in_flight = self._written + in_flight, 0
                    self._made_room()
                    await self._publish(rows)
            except Exception:
                in_flight = 0  # a failed transaction wrote nothing: it is tried again
                raise
            finally:
                # A write cut short by cancellation may have committed: it is not tried
                # again, so that no visit is ever counted twice.
                self._pending[:0] = batch[self._written + in_flight :]
                self._writing, self._written = [], 0
                self._made_room()

    async def _rows(self, visits: list[PendingVisit]) -> list[tuple[dict[str, Any], bool]]:
        """Each visit's row, and whether it adds to its link's count; the User-Agents are
        classified off the event loop (an unseen one costs milliseconds) and before any
        transaction begins, so that no writer waits for them."""
        rows = []
        for start in range(0, len(visits), CHUNK):
            chunk = visits[start : start + CHUNK]
            agents = await asyncio.to_thread(_classify, chunk)
            for visit, agent in zip(chunk, agents, strict=True):
                row = {
                    "short_url_id": visit.link_id,
                    "visited_at": visit.visited_at,
                    "referrer": visit.referrer,
                    "user_agent": visit.user_agent,
                    "browser": agent.browser,
                    "os": agent.os,
                    "device": agent.device,
                    "is_bot": agent.is_bot,
                }
                rows.append((row, not visit.counted and not agent.is_bot))
        return rows

    async def _write(self, rows: list[tuple[dict[str, Any], bool]]) -> list[dict[str, Any]]:
        """Insert the visits and add them to the counts, in one transaction; the rows
        written. Visits of links deleted since their redirect go with their links."""
        try:
            return await self._insert(rows)
        except IntegrityError:
            ids = {row["short_url_id"] for row, _ in rows}
            async with self._sessionmaker() as session:
                existing = set(
                    await session.scalars(select(ShortUrl.id).where(ShortUrl.id.in_(ids)))
                )
            return await self._insert([r for r in rows if r[0]["short_url_id"] in existing])

    async def _insert(self, rows: list[tuple[dict[str, Any], bool]]) -> list[dict[str, Any]]:
        """Sent in chunks: between two, the event loop serves requests, so a large batch
        does not stall the redirects behind it."""
        written: list[dict[str, Any]] = []
        if not rows:
            return written
        increments = Counter(row["short_url_id"] for row, counts in rows if counts)
        async with write_transaction(self._sessionmaker) as session:
            connection = await session.connection()
            for chunk in _chunks([row for row, _ in rows]):
                # RETURNING whole rows: each event is complete without matching rows to
                # input order, so the driver may send multi-row INSERTs.
                inserted = await connection.execute(_insert_visits, chunk)
                written += [dict(row._mapping) for row in inserted]
            if increments:
                await connection.execute(
                    _increment, [{"link_id": k, "visits": n} for k, n in increments.items()]
                )
        return written

    async def _publish(self, rows: list[dict[str, Any]]) -> None:
        """The live events of visits just written. They are recorded whatever happens here:
        a broker that fails loses these events, and the writing goes on."""
        try:
            await self._broker.publish_many(
                [
                    (
                        visits_channel(row["short_url_id"]),
                        {**row, "visited_at": row["visited_at"].isoformat()},
                    )
                    for row in rows
                ]
            )
        except Exception:
            logger.exception("publishing %d visits failed (they are recorded)", len(rows))

    async def _run(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            try:
                await self.flush()
            except Exception:
                logger.exception("writing %d buffered visits failed; retrying", self.pending)
                await asyncio.sleep(self._interval)  # not at once, however full the buffer

    def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name="visit-recorder")

    async def stop(self) -> None:
        """Write what is left and stop. A flush under way finishes: it is never cut short,
        since a write transaction cancelled half-way could leave its lock behind."""
        self._stopping.set()
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        await self.flush()
