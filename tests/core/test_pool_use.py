"""A request holds at most one read connection: many lists on one level cannot starve the
pool, and a pool that is out of connections answers SERVICE_UNAVAILABLE at once."""

import asyncio
import time
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from graphql_api.core.db.migrate import upgrade_async
from tests.support.chat import NEW_MESSAGE, create_room
from tests.support.client import GraphQLClient, error_codes
from tests.support.databases import empty_tables as _empty_tables
from tests.support.items import CREATE_ITEM
from tests.support.links import shorten
from tests.support.ratelimit import client_at, limited_app
from tests.support.users import sign_up

LIST = "items(first: 1) { totalCount nodes { id owner { username } } }"
ONE_LIST = {"query": "{ " + LIST + " }"}
ALIASED_LISTS = "query { " + " ".join(f"l{n}: {LIST}" for n in range(25)) + " }"
ROOMS_WITH_MESSAGES = """query { chatRooms(first: 25) { nodes { name
  messages(last: 5) { totalCount nodes { text author { username } } } } } }"""
LINKS_WITH_VISITS = """query { myShortUrls(first: 25) { nodes { code
  visits(first: 5) { totalCount } tags } } }"""


async def test_many_lists_on_one_level_need_one_connection(
    database_url: str, tmp_path: Path
) -> None:
    """With a pool of one connection (two under load), each of these answers, and four
    of each at once still do, while a small query gets through between them."""
    async with (
        limited_app(database_url, tmp_path, db_pool_size=1, db_pool_timeout_seconds=2) as app,
        client_at(app) as http,
    ):
        await _empty_tables(app.state.services.engine)
        ann = await sign_up(http, "ann")
        for n in range(25):
            await ann.client.mutate(CREATE_ITEM, {"title": f"item {n}", "price": "1.00"})
            await create_room(ann, f"room-{n}")
            await ann.client.mutate(NEW_MESSAGE, {"room": f"room-{n}", "text": "hi"})
            await shorten(ann, f"https://example.com/{n}")
        started = time.monotonic()
        answers = await asyncio.gather(
            *(
                ann.client.execute(query)
                for query in (ALIASED_LISTS, ROOMS_WITH_MESSAGES, LINKS_WITH_VISITS)
                for _ in range(4)
            ),
            GraphQLClient(http).execute("query { items(first: 1) { totalCount } }"),
        )
        assert time.monotonic() - started < 10
        for body in answers:
            assert "errors" not in body, body["errors"]
        assert len(answers[0]["data"]) == 25
        assert answers[0]["data"]["l24"]["totalCount"] == 25
        assert len(answers[4]["data"]["chatRooms"]["nodes"]) == 25
        assert len(answers[8]["data"]["myShortUrls"]["nodes"]) == 25


async def test_an_exhausted_pool_is_a_fast_clear_error(database_url: str, tmp_path: Path) -> None:
    async with (
        limited_app(database_url, tmp_path, db_pool_size=1, db_pool_timeout_seconds=0.5) as app,
        client_at(app) as http,
    ):
        await _empty_tables(app.state.services.engine)
        engine = app.state.services.reader.kw["bind"]
        held = [await engine.connect() for _ in range(2)]  # twice the pool size: all it opens
        try:
            started = time.monotonic()
            body = (await http.post("/graphql", json={"query": ALIASED_LISTS})).json()
            assert time.monotonic() - started < 3
        finally:
            for conn in held:
                await conn.close()
        assert set(error_codes(body)) == {"SERVICE_UNAVAILABLE"}, body
        assert {e["message"] for e in body["errors"]} == {"The server is busy: try again shortly."}
        # Once connections are free again, the same request answers.
        again = (await http.post("/graphql", json={"query": ALIASED_LISTS})).json()
        assert "errors" not in again and again["data"]["l0"]["totalCount"] == 0


async def test_a_pool_keeps_what_it_opened_under_bursts(database_url: str, tmp_path: Path) -> None:
    """Load that rises and falls opens connections once: the pool keeps them all. With an
    overflow over the pool size, each burst opened its overflow again (a new backend, and
    asyncpg's set-up, each time)."""
    async with (
        limited_app(database_url, tmp_path, db_pool_size=2, db_pool_timeout_seconds=5) as app,
        client_at(app) as http,
    ):
        await _empty_tables(app.state.services.engine)
        engine = app.state.services.reader.kw["bind"]
        opened: list[object] = []

        def count(*_: object) -> None:
            opened.append(1)

        event.listen(engine.sync_engine, "connect", count)
        try:
            for _ in range(5):
                await use_at_once(engine, 4)  # twice the pool size: all it may open
                body = (await http.post("/graphql", json=ONE_LIST)).json()
                assert body["data"]["items"]["totalCount"] == 0, body
        finally:
            event.remove(engine.sync_engine, "connect", count)
        assert len(opened) == 4


async def test_connections_the_server_closed_are_not_handed_out(
    postgres_server_url: str, tmp_path: Path
) -> None:
    """PostgreSQL ends every connection of the app's pools, as a restart would: the requests
    that follow answer, each on a connection opened in place of a closed one."""
    async with (
        limited_app(postgres_server_url, tmp_path, db_pool_size=2) as app,
        client_at(app) as http,
    ):
        await upgrade_async(app.state.services.settings)
        engine = app.state.services.reader.kw["bind"]
        await use_at_once(engine, 4)  # all the read pool opens
        killer = await asyncpg.connect(postgres_server_url)
        try:
            ended = await killer.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        finally:
            await killer.close()
        assert ended >= 4
        await asyncio.sleep(0.5)  # the ends of the sockets reach the event loop
        for _ in range(8):
            body = (await http.post("/graphql", json=ONE_LIST)).json()
            assert body == {"data": {"items": {"totalCount": 0, "nodes": []}}}, body


async def use_at_once(engine: AsyncEngine, connections: int) -> None:
    """Hold this many of the engine's connections at once, each used, then give them back."""
    held = [await engine.connect() for _ in range(connections)]
    for conn in held:
        await conn.execute(text("SELECT 1"))
        await conn.close()


async def test_an_exhausted_pool_is_the_same_clear_error_on_the_fast_path(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A query seen before takes the fast path (on PostgreSQL, the statements that build
    its JSON); out of connections, it is the same SERVICE_UNAVAILABLE, and nothing fails."""
    async with (
        limited_app(database_url, tmp_path, db_pool_size=1, db_pool_timeout_seconds=0.5) as app,
        client_at(app) as http,
    ):
        await _empty_tables(app.state.services.engine)
        await http.post("/graphql", json={"query": ALIASED_LISTS})  # the whole way, once
        engine = app.state.services.reader.kw["bind"]
        held = [await engine.connect() for _ in range(2)]
        try:
            body = (await http.post("/graphql", json={"query": ALIASED_LISTS})).json()
        finally:
            for conn in held:
                await conn.close()
        assert set(error_codes(body)) == {"SERVICE_UNAVAILABLE"}, body
        assert "the fast path failed" not in caplog.text
        again = (await http.post("/graphql", json={"query": ALIASED_LISTS})).json()
        assert "errors" not in again and again["data"]["l0"]["totalCount"] == 0
