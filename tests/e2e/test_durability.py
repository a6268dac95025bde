"""A server killed with SIGKILL under a stream of writes loses nothing it acknowledged.

Several clients post `createItem` and `sendMessage` as fast as the server answers, one
more follows short links; at a random moment the server gets SIGKILL, 20 times over, and
is restarted on the same database. After each restart every mutation whose answer came
back (data, no errors, no userErrors) must be in the database as answered, and the
database must pass its integrity checks.

Visits are buffered and a hard kill may lose those not written yet, as the README says
(how many is test_visit_buffer's business): here they are held to consistency only (each
link's `visit_count` equals its stored human visits: a batch is written whole or not).

The kill moments come from a seeded random generator; the seed is printed, and
`DURABILITY_SEED=<seed>` replays the same kill delays (the interleaving of requests is
the scheduler's, so a replay is close, never exact).
"""

import asyncio
import itertools
import os
import random
import sqlite3
import statistics
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from graphql_api.core.db.base import Base
from graphql_api.core.graphql.relay import from_global_id
from tests.support.databases import Rows, open_database
from tests.support.links import BROWSER, GOOGLEBOT
from tests.support.server import ServerProcess, cli_env, run_cli, start_server
from tests.support.users import sign_up_over_http
from tests.support.wait import eventually

KILLS = 20
WRITERS = 4
LINKS = 3
ROOM = "durability"
# Acknowledged writes in a cycle before its kill may come: the load is flowing by then.
FLOWING = 5
# The kill comes at a random moment up to this long after that.
MAX_KILL_DELAY = 0.4

CREATE_ITEM = """
mutation($input: CreateItemInput!) {
  createItem(input: $input) { item { id title price tags } userErrors { code message } }
}
"""
SEND_MESSAGE = """
mutation($input: SendMessageInput!) {
  sendMessage(input: $input) { message { id text } userErrors { code message } }
}
"""
CREATE_ROOM = """
mutation($input: CreateChatRoomInput!) {
  createChatRoom(input: $input) { chatRoom { id } userErrors { code message } }
}
"""
SHORTEN = """
mutation($input: ShortenUrlInput!) {
  shortenUrl(input: $input) { shortUrl { code } userErrors { code message } }
}
"""
ITEM_COUNT = "{ items { totalCount } }"


@dataclass
class Acknowledged:
    """Everything the server said it had written."""

    items: dict[int, tuple[str, int, frozenset[str]]] = field(default_factory=dict)
    messages: dict[int, str] = field(default_factory=dict)
    links: set[str] = field(default_factory=set)
    in_cycle: int = 0  # writes acknowledged since the last restart
    unexpected: list[str] = field(default_factory=list)  # answers that were not a success

    @property
    def count(self) -> int:
        return len(self.items) + len(self.messages)


def payload_of(response: httpx.Response, name: str, acked: Acknowledged) -> dict[str, Any] | None:
    """A mutation's payload if the server acknowledged it; any other answer is noted."""
    try:
        body: dict[str, Any] = response.json()
    except ValueError:
        acked.unexpected.append(f"{name}: HTTP {response.status_code} {response.text}")
        return None
    payload = (body.get("data") or {}).get(name)
    if response.status_code != 200 or body.get("errors") or not payload or payload["userErrors"]:
        acked.unexpected.append(f"{name}: HTTP {response.status_code} {body}")
        return None
    return payload  # type: ignore[no-any-return]


async def write_until_killed(
    url: str, token: str, writer: int, cycle: int, acked: Acknowledged
) -> None:
    """createItem and sendMessage in turn, back to back, until the server is gone."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
        for n in itertools.count():
            label = f"w{writer}-k{cycle}-{n}"
            if n % 2 == 0:
                name, query = "createItem", CREATE_ITEM
                input = {"title": label, "price": f"{n}.25", "tags": [f"w{writer}", f"k{cycle}"]}
            else:
                name, query = "sendMessage", SEND_MESSAGE
                input = {"room": ROOM, "text": label}
            try:
                response = await client.post(
                    "/graphql", json={"query": query, "variables": {"input": input}}
                )
            except httpx.TransportError:
                return  # killed: this write was never acknowledged, its fate is unknown
            payload = payload_of(response, name, acked)
            if payload is None:
                return
            if name == "createItem":
                item = payload["item"]
                cents = int(Decimal(item["price"]) * 100)
                acked.items[from_global_id(item["id"])[1]] = (
                    item["title"],
                    cents,
                    frozenset(item["tags"]),
                )
            else:
                message = payload["message"]
                acked.messages[from_global_id(message["id"])[1]] = message["text"]
            acked.in_cycle += 1


async def follow_until_killed(url: str, codes: list[str], acked: Acknowledged) -> None:
    """Redirects, a bot's now and then, until the server is gone."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        for n in itertools.count():
            agent = GOOGLEBOT if n % 4 == 3 else BROWSER
            try:
                response = await client.get(
                    f"/{codes[n % len(codes)]}", headers={"User-Agent": agent}
                )
            except httpx.TransportError:
                return
            if response.status_code != 302:
                acked.unexpected.append(f"redirect: HTTP {response.status_code} {response.text}")
                return


async def set_up(url: str, acked: Acknowledged) -> list[str]:
    """The writers' accounts (their tokens), their chat room and the links to follow."""
    tokens = [await sign_up_over_http(url, f"writer{w}") for w in range(WRITERS)]
    headers = {"Authorization": f"Bearer {tokens[0]}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
        response = await client.post(
            "/graphql",
            json={"query": CREATE_ROOM, "variables": {"input": {"name": ROOM, "title": "Room"}}},
        )
        assert payload_of(response, "createChatRoom", acked), acked.unexpected
        for n in range(LINKS):
            response = await client.post(
                "/graphql",
                json={
                    "query": SHORTEN,
                    "variables": {"input": {"url": f"https://example.com/{n}"}},
                },
            )
            payload = payload_of(response, "shortenUrl", acked)
            assert payload, acked.unexpected
            acked.links.add(payload["shortUrl"]["code"])
    return tokens


async def try_amcheck(url: str) -> bool:
    """Whether PostgreSQL's amcheck extension is there (created if allowed)."""
    pg = await asyncpg.connect(url, timeout=10)
    try:
        await pg.execute("CREATE EXTENSION IF NOT EXISTS amcheck")
    except asyncpg.PostgresError as exc:
        print(f"amcheck unavailable ({exc}): tables are read whole and FKs checked instead")
        return False
    finally:
        await pg.close()
    return True


async def integrity_problems(rows: Rows, *, sqlite: bool, amcheck: bool) -> list[str]:
    """What the backend's own checks, and the foreign keys, say is wrong."""
    problems: list[str] = []
    if sqlite:
        if (result := await rows("PRAGMA integrity_check")) != [("ok",)]:
            problems.append(f"integrity_check: {result}")
        if result := await rows("PRAGMA foreign_key_check"):
            problems.append(f"foreign_key_check: {result}")
    elif amcheck:
        # Every heap page of the app's tables, and every B-tree index against its heap.
        app_relations = """pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
            AND s.nspname = current_schema()"""
        heap = await rows(
            f"SELECT c.relname, v.blkno, v.offnum, v.msg FROM {app_relations} "
            "CROSS JOIN LATERAL verify_heapam(c.oid) v WHERE c.relkind = 'r'"
        )
        problems += [f"verify_heapam: {row}" for row in heap]
        try:
            await rows(
                f"SELECT bt_index_check(c.oid, true) FROM {app_relations} "
                "JOIN pg_am a ON a.oid = c.relam AND a.amname = 'btree' WHERE c.relkind = 'i'"
            )
        except asyncpg.PostgresError as exc:
            problems.append(f"bt_index_check: {exc}")
    # Every table reads whole, and no row points at a missing parent: on SQLite a second
    # opinion to foreign_key_check, on PostgreSQL (which enforces its foreign keys as it
    # writes) a check that the constraints still hold for what is on disk.
    for table in Base.metadata.sorted_tables:
        await rows(f"SELECT count(*) FROM {table.name}")
        for fk in table.foreign_keys:
            child, parent = fk.parent.name, fk.column
            orphans = await rows(
                f"SELECT count(*) FROM {table.name} c WHERE c.{child} IS NOT NULL AND NOT EXISTS "
                f"(SELECT 1 FROM {parent.table.name} p WHERE p.{parent.name} = c.{child})"
            )
            if orphans != [(0,)]:
                problems.append(f"{table.name}.{child}: {orphans[0][0]} rows without their parent")
    return problems


def whole_item(title: str) -> tuple[str, int, frozenset[str]]:
    """The title, price (cents) and tags of the item a writer created with this title."""
    writer, cycle, n = title.split("-")
    return title, int(n) * 100 + 25, frozenset({writer, cycle})


async def durability_problems(rows: Rows, acked: Acknowledged) -> list[str]:
    """Acknowledged rows missing or changed, half-written items, counters that disagree."""
    problems: list[str] = []
    tags: dict[int, set[str]] = {}
    for item_id, tag in await rows("SELECT item_id, tag FROM item_tags"):
        tags.setdefault(item_id, set()).add(tag)
    items = {
        item_id: (title, price, frozenset(tags.get(item_id, ())))
        for item_id, title, price in await rows("SELECT id, title, price FROM items")
    }
    problems += [
        f"item {item_id} {want} is {items.get(item_id)}"
        for item_id, want in acked.items.items()
        if items.get(item_id) != want
    ]
    # Acknowledged or not, an item and its tags are one transaction: all there or none.
    problems += [
        f"item {item_id} {stored} is half-written"
        for item_id, stored in items.items()
        if stored != whole_item(stored[0])
    ]
    messages: dict[int, str] = dict(await rows("SELECT id, text FROM chat_messages"))
    problems += [
        f"message {message_id} {want!r} is {messages.get(message_id)!r}"
        for message_id, want in acked.messages.items()
        if messages.get(message_id) != want
    ]
    counters = await rows(
        "SELECT s.code, s.visit_count, (SELECT count(*) FROM visits v "
        "WHERE v.short_url_id = s.id AND NOT v.is_bot) FROM short_urls s"
    )
    problems += [f"link {code} missing" for code in acked.links - {row[0] for row in counters}]
    problems += [
        f"link {code}: visit_count {count} but {human} human visits stored"
        for code, count, human in counters
        if count != human
    ]
    return problems


async def check(url: str, acked: Acknowledged, *, amcheck: bool) -> tuple[int, int]:
    """Fails on any lost acknowledged write or damage; the items and visits stored."""
    try:
        async with open_database(url) as rows:
            problems = await integrity_problems(
                rows, sqlite=url.startswith("sqlite"), amcheck=amcheck
            )
            problems += await durability_problems(rows, acked)
            ((items,),) = await rows("SELECT count(*) FROM items")
            ((visits,),) = await rows("SELECT count(*) FROM visits")
    except (sqlite3.DatabaseError, asyncpg.PostgresError) as exc:
        raise AssertionError(f"the database cannot be read: {exc!r}") from exc
    assert not problems, "\n".join(problems[:50])
    return items, visits


async def kill_under_load(
    server: ServerProcess,
    tokens: list[str],
    cycle: int,
    delay: float,
    acked: Acknowledged,
) -> float:
    """Start the writers and the redirects; SIGKILL the server `delay` after they flow.

    Returns how long the load took to flow.
    """
    acked.in_cycle = 0
    started = time.monotonic()
    tasks = [
        asyncio.create_task(write_until_killed(server.url, token, w, cycle, acked))
        for w, token in enumerate(tokens)
    ]
    tasks.append(asyncio.create_task(follow_until_killed(server.url, sorted(acked.links), acked)))
    try:
        await eventually(
            lambda: acked.in_cycle >= FLOWING or all(task.done() for task in tasks),
            within=20,
            interval=0.005,
            what="the load flowing",
        )
        assert not acked.unexpected, acked.unexpected[:5]
        flowing = time.monotonic() - started
        await asyncio.sleep(delay)  # a duration, not a wait: the kill's random moment
    finally:
        server.kill()
        await asyncio.wait_for(asyncio.gather(*tasks), 30)
    assert not acked.unexpected, acked.unexpected[:5]
    return flowing


async def test_sigkill_loses_no_acknowledged_write(
    tmp_path: Path, server_database_url: str
) -> None:
    seed = int(os.environ.get("DURABILITY_SEED") or random.SystemRandom().randrange(2**32))
    print(f"\ndurability seed {seed} (replay: DURABILITY_SEED={seed})")
    rng = random.Random(seed)
    url = server_database_url
    env = cli_env(tmp_path, DATABASE_URL=url)
    migrated = run_cli("migrate", env=env, cwd=tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    amcheck = not url.startswith("sqlite") and await try_amcheck(url)

    acked = Acknowledged()
    startups: list[float] = []
    items = visits = 0
    server = start_server(env, tmp_path, "--no-access-log")
    try:
        tokens = await set_up(server.url, acked)
        for cycle in range(1, KILLS + 1):
            delay = rng.uniform(0, MAX_KILL_DELAY)
            before = acked.count
            flowing = await kill_under_load(server, tokens, cycle, delay, acked)
            server = start_server(env, tmp_path, "--no-access-log")
            startups.append(server.startup_seconds)
            checked = time.monotonic()
            try:
                async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
                    ready = await client.get("/readyz")
                assert ready.status_code == 200, f"/readyz: {ready.status_code} {ready.text}"
                items, visits = await check(url, acked, amcheck=amcheck)
            except AssertionError as exc:
                raise AssertionError(
                    f"seed {seed}, after kill {cycle} (delay {delay:.3f} s):\n{exc}"
                ) from None
            print(
                f"kill {cycle:2}: {delay:.3f} s after the load flowed (in {flowing:.2f} s), "
                f"{acked.count - before} writes acknowledged; restart {startups[-1]:.2f} s, "
                f"check {time.monotonic() - checked:.2f} s"
            )
        async with httpx.AsyncClient(base_url=server.url) as client:
            response = await client.post("/graphql", json={"query": ITEM_COUNT})
        # The restarted server serves what the direct check saw.
        assert response.json() == {"data": {"items": {"totalCount": items}}}
        server.stop()
    finally:
        if server.process.poll() is None:
            server.kill()
    print(
        f"{acked.count} writes acknowledged over {KILLS} kills, {items} items and {visits} "
        f"visits stored; restart {min(startups):.2f} / {statistics.median(startups):.2f} / "
        f"{max(startups):.2f} s (min / median / max)"
    )
    # Each kind of write was checked, and the counters against visits that were written.
    assert acked.items and acked.messages and visits > 0
