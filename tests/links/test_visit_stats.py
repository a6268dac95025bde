from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert

from graphql_api.core.graphql.relay import from_global_id
from graphql_api.links.models import Visit
from tests.support.client import error_codes
from tests.support.links import shorten
from tests.support.users import SignedIn

STATS = """query($code: String!, $from: DateTime, $to: DateTime, $interval: VisitInterval!) {
  shortUrl(code: $code) { visitStats(from: $from, to: $to, interval: $interval) {
    since until interval total bots
    buckets { start visits bots }
    referrers { value visits } browsers { value visits }
    operatingSystems { value visits } devices { value visits }
  } }
}"""
DAY = datetime(2026, 3, 10, tzinfo=UTC)


@pytest.fixture
async def link_with_visits(alice: SignedIn, services) -> str:  # type: ignore[no-untyped-def]
    link = await shorten(alice)
    _, link_id = from_global_id(link["id"])

    def visit(
        hour: int,
        minute: int,
        *,
        bot: bool = False,
        referrer: str | None = None,
        browser: str = "Chrome",
        os: str = "Windows",
    ) -> dict[str, object]:
        return {
            "short_url_id": link_id,
            "visited_at": DAY + timedelta(hours=hour, minutes=minute),
            "referrer": referrer,
            "browser": browser,
            "os": os,
            "device": "bot" if bot else "desktop",
            "is_bot": bot,
        }

    rows = [
        visit(9, 5, referrer="https://a.example/"),
        visit(9, 59, referrer="https://a.example/"),
        visit(10, 0, referrer="https://b.example/", browser="Firefox", os="Linux"),
        visit(10, 30, bot=True, browser="Googlebot", os="Other"),
        visit(23, 59, browser="Safari", os="iOS"),
        visit(24, 0),
    ]  # the next day
    async with services.sessionmaker.begin() as session:
        await session.execute(insert(Visit), rows)
    return link["code"]  # type: ignore[no-any-return]


async def test_hourly_buckets_and_top_values(alice: SignedIn, link_with_visits: str) -> None:
    data = await alice.client.data(
        STATS,
        {
            "code": link_with_visits,
            "from": "2026-03-10T09:30:00Z",
            "to": "2026-03-10T12:00:00Z",
            "interval": "HOUR",
        },
    )
    stats = data["shortUrl"]["visitStats"]
    assert stats["since"] == "2026-03-10T09:00:00+00:00"  # aligned to the bucket
    assert stats["buckets"] == [
        {"start": "2026-03-10T09:00:00+00:00", "visits": 2, "bots": 0},
        {"start": "2026-03-10T10:00:00+00:00", "visits": 2, "bots": 1},
        {"start": "2026-03-10T11:00:00+00:00", "visits": 0, "bots": 0},
    ]
    assert (stats["total"], stats["bots"]) == (4, 1)
    assert stats["referrers"] == [
        {"value": "https://a.example/", "visits": 2},
        {"value": "https://b.example/", "visits": 1},
    ]
    assert stats["browsers"][0] == {"value": "Chrome", "visits": 2}
    assert {"value": "bot", "visits": 1} in stats["devices"]


async def test_daily_buckets(alice: SignedIn, link_with_visits: str) -> None:
    data = await alice.client.data(
        STATS,
        {
            "code": link_with_visits,
            "from": "2026-03-10T00:00:00Z",
            "to": "2026-03-12T00:00:00Z",
            "interval": "DAY",
        },
    )
    buckets = data["shortUrl"]["visitStats"]["buckets"]
    assert [(b["start"][:10], b["visits"], b["bots"]) for b in buckets] == [
        ("2026-03-10", 5, 1),
        ("2026-03-11", 1, 0),
    ]


async def test_stats_are_for_the_owner_only(bob: SignedIn, link_with_visits: str) -> None:
    data = await bob.client.data(STATS, {"code": link_with_visits, "interval": "DAY"})
    assert data["shortUrl"]["visitStats"] is None


@pytest.mark.parametrize(
    "variables",
    [
        {"from": "2026-03-12T00:00:00Z", "to": "2026-03-10T00:00:00Z", "interval": "DAY"},
        {"from": "2020-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z", "interval": "HOUR"},
        {"from": "2026-03-10T00:00:00", "interval": "DAY"},
    ],
)
async def test_bad_ranges_are_refused(
    alice: SignedIn, link_with_visits: str, variables: dict[str, str]
) -> None:
    body = await alice.client.execute(STATS, {"code": link_with_visits, **variables})
    assert error_codes(body) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize(
    "variables",
    [
        {"to": "0001-01-02T00:00:00+05:00", "interval": "DAY"},
        {"from": "9999-12-30T00:00:00Z", "to": "9999-12-31T23:00:00-05:00", "interval": "HOUR"},
    ],
)
async def test_moments_at_the_ends_of_the_calendar_are_refused(
    alice: SignedIn, link_with_visits: str, variables: dict[str, str]
) -> None:
    body = await alice.client.execute(STATS, {"code": link_with_visits, **variables})
    assert error_codes(body) == ["BAD_USER_INPUT"]
