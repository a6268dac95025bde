"""Visit statistics of one short URL over a time range."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_api.links.models import Visit

TOP = 10


class Interval(Enum):
    HOUR = timedelta(hours=1)
    DAY = timedelta(days=1)


# At most this many buckets in one answer: a year of days, or a month of hours.
MAX_BUCKETS = {Interval.HOUR: 31 * 24, Interval.DAY: 366}


@dataclass(frozen=True, slots=True)
class Bucket:
    start: datetime
    visits: int
    bots: int


@dataclass(frozen=True, slots=True)
class Count:
    value: str
    visits: int


@dataclass(frozen=True, slots=True)
class VisitStats:
    since: datetime
    until: datetime
    interval: Interval
    total: int
    bots: int
    buckets: list[Bucket]
    referrers: list[Count]
    browsers: list[Count]
    operating_systems: list[Count]
    devices: list[Count]


def truncate(moment: datetime, interval: Interval) -> datetime:
    moment = moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0) if interval is Interval.DAY else moment


def _bucket_start(dialect: str, interval: Interval) -> ColumnElement[Any]:
    """The UTC start of a visit's bucket, computed by the database."""
    if dialect == "postgresql":
        unit = "hour" if interval is Interval.HOUR else "day"
        return func.date_trunc(unit, func.timezone("UTC", Visit.visited_at))
    # SQLite keeps UTC timestamps as text (see UTCDateTime).
    pattern = "%Y-%m-%d %H:00:00" if interval is Interval.HOUR else "%Y-%m-%d 00:00:00"
    return func.strftime(pattern, Visit.visited_at)


def _as_utc(value: datetime | str) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


async def visit_stats(
    session: AsyncSession, *, link_id: int, since: datetime, until: datetime, interval: Interval
) -> VisitStats:
    """Counts per bucket and the most frequent referrers, browsers, systems and devices."""
    since, until = truncate(since, interval), until.astimezone(UTC)
    in_range = (Visit.short_url_id == link_id, Visit.visited_at >= since, Visit.visited_at < until)
    start = _bucket_start(session.get_bind().dialect.name, interval).label("start")
    bots = func.count().filter(Visit.is_bot.is_(True))
    rows = await session.execute(select(start, func.count(), bots).where(*in_range).group_by(start))
    found = {_as_utc(s): (n, b) for s, n, b in rows}
    buckets = []
    moment = since
    while moment < until:
        visits, bot_visits = found.get(moment, (0, 0))
        buckets.append(Bucket(moment, visits, bot_visits))
        moment += interval.value

    async def top(column: Any) -> list[Count]:
        result = await session.execute(
            select(column, func.count().label("n"))
            .where(*in_range, column.is_not(None))
            .group_by(column)
            .order_by(func.count().desc(), column)
            .limit(TOP)
        )
        return [Count(value, n) for value, n in result]

    return VisitStats(
        since=since,
        until=until,
        interval=interval,
        total=sum(b.visits for b in buckets),
        bots=sum(b.bots for b in buckets),
        buckets=buckets,
        referrers=await top(Visit.referrer),
        browsers=await top(Visit.browser),
        operating_systems=await top(Visit.os),
        devices=await top(Visit.device),
    )
