"""What the redirect needs to know about a code, kept in memory.

Misses are loaded in batches: every code asked for while a load is under way goes
into the next single query, so a burst over many cold links costs a few queries, not
one each, and a burst on one cold link costs one. Entries expire after a TTL and are
dropped at once when their link changes (see `invalidate`) or their owner is deleted
(`invalidate_owner`), so a change is seen by the next redirect in this process.
"""

import asyncio
import time
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, select

from graphql_api.core.db.engine import Sessionmaker
from graphql_api.links.models import ShortUrl

# Built once, with an expanding parameter. (A statement built per call with the codes in it
# leaves a reference cycle in SQLAlchemy's bound parameter behind, for the cyclic collector.)
LINKS_BY_CODE = select(ShortUrl).where(ShortUrl.code.in_(bindparam("codes")))

MAX_BATCH = 500


@dataclass(slots=True)
class LinkSnapshot:
    id: int
    code: str
    target_url: str
    owner_id: int
    is_active: bool
    redirect_status: int
    valid_since: datetime | None
    expires_at: datetime | None
    max_visits: int | None
    # Set once the cap is known to be reached; the cap itself is enforced in the database.
    used_up: bool
    # Redirect bodies rendered once, keyed by "the client wants JSON".
    bodies: dict[bool, bytes] = field(default_factory=dict)

    @classmethod
    def of(cls, link: ShortUrl) -> "LinkSnapshot":
        return cls(
            id=link.id,
            code=link.code,
            target_url=link.target_url,
            owner_id=link.owner_id,
            is_active=link.is_active,
            redirect_status=link.redirect_status,
            valid_since=link.valid_since,
            expires_at=link.expires_at,
            max_visits=link.max_visits,
            used_up=link.max_visits is not None and link.visit_count >= link.max_visits,
        )


class LinkCache:
    def __init__(
        self, sessionmaker: Sessionmaker, *, ttl: float = 60.0, max_entries: int = 100_000
    ) -> None:
        self._sessionmaker = sessionmaker
        self._ttl = ttl
        self._max_entries = max_entries
        self._entries: dict[str, tuple[float, LinkSnapshot | None]] = {}
        self._wanted: dict[str, asyncio.Future[LinkSnapshot | None]] = {}
        self._loader: asyncio.Task[None] | None = None
        # Bumped by every invalidation: a load that began before it must not be stored.
        self._generation = 0

    async def get(self, code: str) -> LinkSnapshot | None:
        """The link with this code, or None (unknown codes are cached too)."""
        entry = self._entries.get(code)
        if entry is not None and entry[0] > time.monotonic():
            return entry[1]
        future = self._wanted.get(code)
        if future is None:
            future = self._wanted[code] = asyncio.get_running_loop().create_future()
            if self._loader is None:
                self._loader = asyncio.create_task(self._load_wanted())
        return await asyncio.shield(future)

    async def _load_wanted(self) -> None:
        """Load every wanted code, a batch per query, until none is left."""
        try:
            while self._wanted:
                await asyncio.sleep(0)  # let this tick's requests join the batch
                batch = dict(list(self._wanted.items())[:MAX_BATCH])
                generation = self._generation
                try:
                    found = await self._load(list(batch))
                except Exception as exc:
                    for code, future in batch.items():
                        del self._wanted[code]
                        future.set_exception(exc)
                    continue
                expires = time.monotonic() + self._ttl
                fresh = generation == self._generation
                for code, future in batch.items():
                    del self._wanted[code]
                    if fresh:  # else it may predate a change: the next request reloads
                        self._store(code, expires, found.get(code))
                    future.set_result(found.get(code))
        finally:
            self._loader = None

    async def _load(self, codes: list[str]) -> dict[str, LinkSnapshot]:
        async with self._sessionmaker() as session:
            links = await session.scalars(LINKS_BY_CODE, {"codes": codes})
            return {link.code: LinkSnapshot.of(link) for link in links}

    def _store(self, code: str, expires: float, snapshot: LinkSnapshot | None) -> None:
        if len(self._entries) >= self._max_entries:
            self._entries.pop(next(iter(self._entries)))  # oldest first
        self._entries[code] = (expires, snapshot)

    def invalidate(self, code: str) -> None:
        self._generation += 1
        self._entries.pop(code, None)

    def invalidate_owner(self, owner_id: int) -> None:
        """Drop every link of one owner (a scan: it runs once per deleted user)."""
        self._generation += 1
        gone = [c for c, (_, link) in self._entries.items() if link and link.owner_id == owner_id]
        for code in gone:
            del self._entries[code]

    def clear(self) -> None:
        self._generation += 1
        self._entries.clear()
