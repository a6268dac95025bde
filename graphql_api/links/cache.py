"""What the redirect needs to know about a code, kept in memory.

A miss loads the link once however many requests wait for it (single flight). Entries
expire after a TTL and are dropped at once when the link changes (see `invalidate`),
so a change is seen by the next redirect in this process.
"""

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from graphql_api.core.context import Sessionmaker
from graphql_api.links.models import ShortUrl


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
        self._loading: dict[str, asyncio.Future[LinkSnapshot | None]] = {}

    async def get(self, code: str) -> LinkSnapshot | None:
        """The link with this code, or None (unknown codes are cached too)."""
        entry = self._entries.get(code)
        if entry is not None and entry[0] > time.monotonic():
            return entry[1]
        loading = self._loading.get(code)
        if loading is not None:
            return await asyncio.shield(loading)
        future = self._loading[code] = asyncio.get_running_loop().create_future()
        try:
            snapshot = await self._load(code)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters get it, nobody else must
            raise
        finally:
            del self._loading[code]
        future.set_result(snapshot)
        if len(self._entries) >= self._max_entries:
            self._entries.pop(next(iter(self._entries)))  # oldest first
        self._entries[code] = (time.monotonic() + self._ttl, snapshot)
        return snapshot

    async def _load(self, code: str) -> LinkSnapshot | None:
        async with self._sessionmaker() as session:
            link = (await session.execute(select(ShortUrl).where(ShortUrl.code == code))).scalar()
        return None if link is None else LinkSnapshot.of(link)

    def invalidate(self, code: str) -> None:
        self._entries.pop(code, None)

    def clear(self) -> None:
        self._entries.clear()
