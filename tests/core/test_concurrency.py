"""Concurrent writers wait their turn instead of failing ("database is locked")."""

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import event, text

from graphql_api.core.db.engine import create_engine, create_sessionmaker, write_transaction
from tests.support.client import GraphQLClient
from tests.support.items import CREATE_ITEM, UPDATE_ITEM
from tests.support.settings import TEST_PASSWORD, settings_for_tests
from tests.support.users import LOGIN, REGISTER, SignedIn


async def test_concurrent_mutations_all_succeed(
    anon_client: GraphQLClient, alice: SignedIn
) -> None:
    creates = [
        alice.client.data(CREATE_ITEM, {"input": {"title": f"t{i}", "price": "1"}})
        for i in range(30)
    ]
    registers = [
        anon_client.data(
            REGISTER,
            {
                "input": {
                    "email": f"u{i}@example.com",
                    "username": f"user{i}",
                    "password": TEST_PASSWORD,
                }
            },
        )
        for i in range(5)
    ]
    logins = [
        anon_client.data(LOGIN, {"input": {"login": "alice", "password": TEST_PASSWORD}})
        for _ in range(5)
    ]
    results = await asyncio.gather(*creates, *registers, *logins)
    errors = [e for r in results for payload in r.values() for e in payload["userErrors"]]
    assert errors == []
    data = await alice.client.data("{ items { totalCount } users { totalCount } }")
    assert data == {"items": {"totalCount": 30}, "users": {"totalCount": 6}}


async def test_concurrent_read_then_write_transactions_all_succeed(alice: SignedIn) -> None:
    # updateItem reads the item, then writes it: the pattern that fails on SQLite when a
    # transaction only asks for the write lock at its first write.
    created = await alice.client.mutate(CREATE_ITEM, {"title": "t", "price": "1"})
    item_id = created["item"]["id"]
    results = await asyncio.gather(
        *(
            alice.client.data(UPDATE_ITEM, {"input": {"id": item_id, "price": f"{i}.00"}})
            for i in range(1, 31)
        )
    )
    assert [e for r in results for e in r["updateItem"]["userErrors"]] == []
    final = await alice.client.data("query($id: ID!) { item(id: $id) { price } }", {"id": item_id})
    assert final["item"]["price"] in {f"{i}.00" for i in range(1, 31)}


async def test_sqlite_writers_of_one_process_queue_instead_of_meeting_the_busy_handler(
    tmp_path: Path,
) -> None:
    # With SQLite's busy handler off, a writer that found the database locked would fail
    # at once: all succeed only if this process's writers never overlap.
    engine = create_engine(settings_for_tests(f"sqlite:///{tmp_path / 'w.db'}", tmp_path))
    event.listen(
        engine.sync_engine,
        "connect",
        lambda dbapi, _: dbapi.execute("PRAGMA busy_timeout=0").close(),
    )
    sessionmaker = create_sessionmaker(engine)
    try:
        async with write_transaction(sessionmaker) as session:
            await session.execute(text("CREATE TABLE t (n INTEGER)"))

        async def write(n: int) -> None:
            async with write_transaction(sessionmaker) as session:
                await session.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})
                # A duration, not a wait: the lock is held a while, so others ask for it.
                await asyncio.sleep(0.01)

        await asyncio.gather(*(write(n) for n in range(20)))
        with pytest.raises(ZeroDivisionError):  # a failed transaction gives its turn back
            async with write_transaction(sessionmaker) as session:
                await session.execute(text("INSERT INTO t VALUES (-1)"))
                1 / 0  # noqa: B018
        await asyncio.wait_for(write(20), timeout=5)
        async with sessionmaker() as session:
            assert (await session.scalar(text("SELECT count(*) FROM t"))) == 21
    finally:
        await engine.dispose()
