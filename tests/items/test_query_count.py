"""SQL statements per request must not grow with the page size.

A document's first request takes the whole way (graphql-core and the DataLoaders); the
ones that follow take the fast path, where PostgreSQL answers a root field in one
statement (`core.graphql.engine.sql`) and SQLite gets the plans' batches.
"""

from decimal import Decimal

import pytest

from graphql_api.core.graphql.relay import from_global_id
from graphql_api.items.models import Item
from graphql_api.state import AppState
from graphql_api.users.models import User
from tests.support.databases import StatementLog
from tests.support.users import SignedIn

NESTED = """
query Nested($n: Int!) {
  users(first: $n) { nodes { username items(first: 5) { nodes { title owner { username } } } } }
}
"""
ITEMS = """
query Items($n: Int!) { items(first: $n) { nodes { id title price owner { username } } } }
"""


@pytest.fixture
async def hundred_users(services, alice: SignedIn) -> SignedIn:  # type: ignore[no-untyped-def]
    """alice and 99 more users with 6 items each, written straight to the database."""
    async with services.sessionmaker.begin() as session:
        others = [
            User(username=f"user{i:03}", email=f"user{i:03}@example.com", password_hash="-")
            for i in range(99)
        ]
        session.add_all(others)
        await session.flush()
        owners = [alice_id(alice), *(u.id for u in others)]
        session.add_all(
            Item(owner_id=owner, title=f"item-{n}", price=Decimal(1))
            for owner in owners
            for n in range(6)
        )
    return alice


def alice_id(alice: SignedIn) -> int:
    return from_global_id(alice.id)[1]


async def test_nested_connections_take_constant_statements(
    hundred_users: SignedIn, sql_statements: StatementLog, services: AppState
) -> None:
    await hundred_users.client.data(NESTED, {"n": 1})  # the whole way, once
    counts = {}
    for n in (1, 10, 100):
        sql_statements.clear()
        data = await hundred_users.client.data(NESTED, {"n": n})
        nodes = data["users"]["nodes"]
        assert len(nodes) == n
        assert all(len(u["items"]["nodes"]) == 5 for u in nodes)
        assert all(
            i["owner"]["username"] == u["username"] for u in nodes for i in u["items"]["nodes"]
        )
        counts[n] = sql_statements.count
    if services.engine.dialect.name == "postgresql":
        # The viewer, and the whole answer in one statement.
        assert counts == {1: 2, 10: 2, 100: 2}, sql_statements.statements
    else:
        # The viewer, the page of users, and all their items in one statement.
        assert counts == {1: 3, 10: 3, 100: 3}, sql_statements.statements


async def test_a_page_of_items_with_owners_takes_constant_statements(
    hundred_users: SignedIn, sql_statements: StatementLog, services: AppState
) -> None:
    client = hundred_users.client
    await client.data(ITEMS, {"n": 1})
    counts = {}
    for n in (1, 10, 100):
        sql_statements.clear()
        nodes = (await client.data(ITEMS, {"n": n}))["items"]["nodes"]
        assert len(nodes) == n
        assert all(node["owner"]["username"] for node in nodes)
        counts[n] = sql_statements.count
    # `items` reads no viewer. PostgreSQL answers in one statement; SQLite reads the page,
    # then its owners.
    expected = 1 if services.engine.dialect.name == "postgresql" else 2
    assert counts == dict.fromkeys((1, 10, 100), expected), sql_statements.statements
