"""A page of every link's visits costs one statement, however many links are listed."""

from datetime import UTC, datetime, timedelta

import pytest

from graphql_api.core.graphql.relay import from_global_id
from graphql_api.links.models import ShortUrl, Visit
from graphql_api.state import AppState
from tests.support.databases import StatementLog
from tests.support.users import SignedIn

LINKS = """
query Links($n: Int!) {
  myShortUrls(first: $n) {
    nodes { code visits(first: 2) { totalCount nodes { referrer } pageInfo { hasNextPage } } }
  }
}
"""
START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
async def twenty_links(services: AppState, alice: SignedIn) -> SignedIn:
    """20 of alice's links with 4 visits each, written straight to the database."""
    owner = from_global_id(alice.id)[1]
    async with services.sessionmaker.begin() as session:
        links = [
            ShortUrl(code=f"code{i:02}", target_url="https://example.com/", owner_id=owner)
            for i in range(20)
        ]
        session.add_all(links)
        await session.flush()
        session.add_all(
            Visit(short_url_id=link.id, visited_at=START + timedelta(hours=h), referrer=f"{h}")
            for link in links
            for h in range(4)
        )
    return alice


async def test_visits_take_one_statement_per_batch(
    twenty_links: SignedIn, sql_statements: StatementLog
) -> None:
    counts = {}
    for n in (1, 5, 20):
        sql_statements.clear()
        data = await twenty_links.client.data(LINKS, {"n": n})
        links = data["myShortUrls"]["nodes"]
        assert len(links) == n
        for link in links:
            visits = link["visits"]
            assert [v["referrer"] for v in visits["nodes"]] == ["3", "2"]  # newest first
            assert visits["totalCount"] == 4
            assert visits["pageInfo"] == {"hasNextPage": True}
        counts[n] = sql_statements.count
    # The viewer, the page of links, every link's visits, and every link's count.
    assert counts == {1: 4, 5: 4, 20: 4}, sql_statements.statements
