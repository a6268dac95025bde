"""Root fields that PostgreSQL answers (`core.graphql.engine.sql`) answer what graphql-core does.

The rows are written straight to the database and hold what is easy to format wrongly:
quotes, backslashes, control characters, U+2028 and emoji in text; NULLs; a timestamp
with no microseconds, one with a single one, and one in the year 1; a cent, a large
amount and a zero tax. Each document goes three times to the app under test (the first
request takes the whole way, the others the fast path, where PostgreSQL builds the
answer) and once to the reference app, which leaves everything to graphql-core, as
anonymous, as a user and as an admin; the bodies must be the same bytes. On PostgreSQL the
fast requests must also have taken the compiled statement: one statement for the field,
besides the viewer's lookup.
"""

import base64
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import text

from graphql_api.core.graphql.relay import from_global_id
from graphql_api.core.http.fast_path import FastQueries
from graphql_api.items.models import Item, ItemTag
from graphql_api.state import AppState
from graphql_api.users.models import Role, User
from tests.support.databases import StatementLog
from tests.support.users import SignedIn

TEXTS = [
    'say "hi" \\ there',
    "tab\tnew\nline \x01\x1f \x7f",
    "line\u2028separator \u2029 é 😀 中文",
    "plain",
    "</script><!-- & '",
]
MOMENTS = [
    datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC),
    datetime(2026, 3, 1, 12, 0, 0, 1, tzinfo=UTC),
    datetime(2026, 3, 1, 12, 0, 0, 999_999, tzinfo=UTC),
    datetime(1, 1, 1, 0, 0, 1, tzinfo=UTC),  # (asyncpg sends datetime.min as -infinity)
    datetime(2026, 3, 1, 12, 0, 0, 120_000, tzinfo=UTC),
]
PRICES = [Decimal("0.01"), Decimal("99999999.99"), Decimal("1.10"), Decimal("20.00"), Decimal("5")]

EVERYTHING = """
query Everything($n: Int, $after: String, $order: ItemOrder, $tag: String, $search: String) {
  items(first: $n, after: $after, orderBy: $order, tag: $tag, search: $search) {
    __typename totalCount
    edges { __typename cursor node { __typename id title description price tax createdAt
      updatedAt owner { __typename id username role isActive createdAt } } }
    pageInfo { __typename hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""
PEOPLE = """
query People($n: Int, $after: String, $search: String, $m: Int, $order: ItemOrder) {
  users(first: $n, after: $after, search: $search) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id username role isActive createdAt
      items(first: $m, orderBy: $order) { totalCount edges { cursor }
        nodes { id title price owner { username } } pageInfo { hasNextPage endCursor } } } }
  }
}
"""
SHAPES = """
query Shapes {
  a: items(first: 2, tag: "red") { nodes { ...Parts } }
  b: items(first: 2, search: "PLAIN") { totalCount nodes { ...Parts title } }
  c: items(first: 0) { totalCount nodes { id } pageInfo { hasNextPage startCursor } }
  d: items(first: 100) { totalCount }
  e: items(first: 3, orderBy: PRICE_ASC) { pageInfo { endCursor } edges { cursor } }
  f: users(first: 2) { nodes { ... on User { username more: items(first: 1, tag: "red") {
    nodes { title } totalCount } } } }
}
fragment Parts on Item { id price other: title owner { username } }
"""
# Documents that mix fields PostgreSQL answers with fields only Python can (`email`,
# `tags`, `me`): each root field goes its own way, the answer in document order.
MIXED = """
query Mixed($n: Int) {
  me { username }
  items(first: $n) { nodes { id tags owner { username } } }
  users(first: $n) { nodes { username email } }
  also: items(first: $n, orderBy: TITLE_DESC) { nodes { title } }
}
"""
BAD = [
    ({"after": "bm9wZQ=="}, EVERYTHING),  # a cursor of no list
    ({"n": 101}, EVERYTHING),  # more than a page may hold
    ({"n": -1}, PEOPLE),
    ({"m": 1000}, PEOPLE),
]
# The documents of which each root field is answered by PostgreSQL, with how many
# statements a fast answer takes: one per root field, and the viewer's lookup for `users`
# (without a token, `users` is an error, which graphql-core reports).
COMPILED = {"Everything": 1, "People": 2, "Shapes": 7}


@pytest.fixture
async def rows(services: AppState, alice: SignedIn) -> None:
    """Users and items with every value above, tagged `red` every other item."""
    alice_pk = from_global_id(alice.id)[1]
    async with services.sessionmaker.begin() as session:
        people = [
            User(
                username=f"{text[:20]}{n}",
                email=f"u{n}@example.com",
                password_hash="-",
                role=Role.ADMIN if n == 1 else Role.USER,
                is_active=n != 2,
                created_at=MOMENTS[n],
            )
            for n, text in enumerate(TEXTS)
        ]
        session.add_all(people)
        await session.flush()
        owners = [alice_pk, *(p.id for p in people)]
        items = []
        for n in range(12):
            moment = MOMENTS[n % len(MOMENTS)] + timedelta(days=n // len(MOMENTS))
            items.append(
                Item(
                    owner_id=owners[n % len(owners)],
                    title=TEXTS[n % len(TEXTS)],
                    description=None if n % 3 == 0 else TEXTS[(n + 1) % len(TEXTS)],
                    price=PRICES[n % len(PRICES)],
                    tax=None if n % 2 else Decimal("0.00") if n % 4 == 0 else Decimal("0.07"),
                    created_at=moment,
                    updated_at=moment + timedelta(microseconds=n),
                )
            )
        session.add_all(items)
        await session.flush()
        session.add_all(ItemTag(item_id=item.id, tag="red") for item in items[::2])


async def _answer(client: httpx.AsyncClient, body: dict[str, Any], token: str | None) -> bytes:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await client.post("/graphql", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.content


async def _cursors(reference: httpx.AsyncClient, token: str | None) -> list[str]:
    """Cursors of several lists and orders, to continue after."""
    body = {
        "query": "{ a: items(first: 3) { edges { cursor } } "
        "b: items(first: 3, orderBy: PRICE_DESC) { edges { cursor } } "
        "c: items(first: 3, orderBy: TITLE_ASC) { edges { cursor } } "
        "u: users(first: 3) { edges { cursor } } }"
    }
    data = orjson.loads(await _answer(reference, body, token))["data"]
    return [edge["cursor"] for found in data.values() for edge in found["edges"]]


def _requests(cursors: list[str]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = [{"query": SHAPES}, {"query": MIXED, "variables": {"n": 3}}]
    for order in (None, "CREATED_AT_ASC", "PRICE_ASC", "PRICE_DESC", "TITLE_ASC", "TITLE_DESC"):
        found.append({"query": EVERYTHING, "variables": {"n": 4, "order": order}})
        found.append({"query": PEOPLE, "variables": {"n": 3, "m": 2, "order": order}})
    for cursor in cursors:
        found.append({"query": EVERYTHING, "variables": {"n": 2, "after": cursor}})
        found.append({"query": PEOPLE, "variables": {"n": 2, "after": cursor}})
    for tag, search in (("red", None), (None, "é"), ("red", "plain"), ("blue", None)):
        found.append({"query": EVERYTHING, "variables": {"tag": tag, "search": search}})
    found.append({"query": PEOPLE, "variables": {"search": "ü"}})
    found.append({"query": PEOPLE, "variables": {"search": "example.com"}})  # admins only
    found += [{"query": query, "variables": variables} for variables, query in BAD]
    return found


def _compiled_statements(body: dict[str, Any]) -> int | None:
    query = body["query"]
    for name, count in COMPILED.items():
        if f"query {name}" in query:
            return count
    return None


async def test_compiled_answers_are_graphql_cores(
    rows: None,
    http: httpx.AsyncClient,
    reference: httpx.AsyncClient,
    alice: SignedIn,
    admin: SignedIn,
    services: AppState,
    sql_statements: StatementLog,
) -> None:
    on_postgresql = services.engine.dialect.name == "postgresql"
    tokens = {"anonymous": None, "user": alice.client.token, "admin": admin.client.token}
    cursors = await _cursors(reference, alice.client.token)
    found = []
    compiled = 0
    for body in _requests(cursors):
        for role, token in tokens.items():
            expected = await _answer(reference, body, token)
            for attempt in range(3):
                sql_statements.clear()
                ours = await _answer(http, body, token)
                if ours != expected:
                    found.append(f"{role} {body} #{attempt}:\n  {ours!r}\n  {expected!r}")
                    break
                statements = _compiled_statements(body)
                failed = b'"errors"' in expected
                if attempt and on_postgresql and statements is not None and not failed:
                    assert sql_statements.count == statements, (
                        body,
                        role,
                        sql_statements.statements,
                    )
                    compiled += 1
    assert not found, f"{len(found)} answers differ:\n" + "\n".join(found)
    if on_postgresql:
        assert compiled > 100  # the statement answered, not the plan


async def test_a_value_sql_cannot_format_leaves_the_field_to_the_plan(
    http: httpx.AsyncClient,
    reference: httpx.AsyncClient,
    alice: SignedIn,
    services: AppState,
    fast: FastQueries,
) -> None:
    """asyncpg stores `datetime.min` as -infinity, which has no `to_char`: that user's
    JSON is NULL, and the whole field goes to the plan instead of losing the user."""
    async with services.sessionmaker.begin() as session:
        session.add(
            User(
                username="earliest",
                email="earliest@example.com",
                password_hash="-",
                created_at=datetime.min.replace(tzinfo=UTC),
            )
        )
    bodies = [
        {"query": "{ users(first: 5) { nodes { username createdAt } } }"},
        {"query": "{ users(first: 5) { pageInfo { startCursor } } }"},
    ]
    plans = fast.schema.plans
    before = plans.sql_answered
    for body in bodies:
        expected = await _answer(reference, body, alice.client.token)
        assert b"earliest" in expected or b'Cursor":"' in expected
        for _ in range(3):
            assert await _answer(http, body, alice.client.token) == expected
    assert plans.sql_answered == before


async def test_a_client_that_changes_shape_every_request_does_not_build_every_time(
    http: httpx.AsyncClient,
    reference: httpx.AsyncClient,
    rows: None,
    services: AppState,
    fast: FastQueries,
) -> None:
    """Every page size from 1 to 100 in three orders: more shapes than the statements
    cache holds. A statement is built only as `Statements` allows (each takes
    milliseconds of the event loop); the plan answers the rest, the same."""
    query = (
        "query Sizes($n: Int, $order: ItemOrder) "
        "{ items(first: $n, orderBy: $order) { totalCount nodes { id price } } }"
    )
    await _answer(http, {"query": query}, None)  # the whole way, once
    plans = fast.schema.plans
    statements = plans.statements
    built, answered = statements.built, plans.sql_answered
    started = time.monotonic()
    shapes = [
        (n, order) for order in ("PRICE_ASC", "TITLE_ASC", "CREATED_AT_ASC") for n in range(1, 101)
    ]
    assert len(shapes) > statements.size
    for n, order in shapes:
        body = {"query": query, "variables": {"n": n, "order": order}}
        assert await _answer(http, body, None) == await _answer(reference, body, None)
    elapsed = time.monotonic() - started
    if services.engine.dialect.name == "postgresql":
        assert plans.sql_answered - answered >= statements.burst
        allowed = statements.burst + statements.per_second * elapsed
        assert statements.built - built <= allowed, (statements.built - built, elapsed)


HAND_WRITTEN = [
    "UPDATE users SET role = 'BOGUS' WHERE username = 'odd'",
    "UPDATE items SET updated_at = '0005-01-01 00:00:00+00 BC' WHERE title = 'ancient'",
    "UPDATE items SET created_at = '10000-01-01 00:00:00+00' WHERE title = 'future'",
]


@pytest.mark.parametrize("change", HAND_WRITTEN)
async def test_a_row_the_app_could_not_load_is_answered_as_the_plan_answers_it(
    http: httpx.AsyncClient,
    reference: httpx.AsyncClient,
    alice: SignedIn,
    services: AppState,
    change: str,
) -> None:
    """Values the app never writes, written by hand: an enum name its enum lacks,
    timestamps outside a datetime's years. The plan's records do not load such a
    row, even where the field that holds it is not selected (and the page's extra row
    counts too), and graphql-core reports an error: so must the answer here."""
    async with services.sessionmaker.begin() as session:
        odd = User(username="odd", email="odd@example.com", password_hash="-")
        session.add(odd)
        await session.flush()
        for title in ("ancient", "future", "plain"):
            session.add(Item(owner_id=odd.id, title=title, price=Decimal(1)))
    async with services.engine.begin() as conn:
        await conn.execute(text(change))
    bodies = [
        {"query": "{ items(first: 5) { nodes { id title owner { username } } } }"},
        {"query": "{ items(first: 1) { totalCount } }"},
        {"query": "{ users(first: 5) { nodes { username } } }"},
        {"query": "{ users(first: 5) { nodes { items(first: 5) { nodes { title } } } } }"},
    ]
    failed = 0
    for body in bodies:
        expected = await _answer(reference, body, alice.client.token)
        failed += b"INTERNAL_SERVER_ERROR" in expected
        for _ in range(3):
            assert await _answer(http, body, alice.client.token) == expected, body
    assert failed  # the plan does refuse the row somewhere


async def test_a_nul_in_a_cursor_is_the_clients_error(
    http: httpx.AsyncClient, reference: httpx.AsyncClient, rows: None
) -> None:
    """PostgreSQL's text holds no NUL: a cursor with one is refused, not sent."""
    cursor = base64.urlsafe_b64encode(orjson.dumps(["t+", "\x00", 3])).decode()
    body = {
        "query": "query($a: String) { items(first: 3, orderBy: TITLE_ASC, after: $a) "
        "{ nodes { id } } }",
        "variables": {"a": cursor},
    }
    expected = await _answer(reference, body, None)
    assert orjson.loads(expected)["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    for _ in range(3):
        assert await _answer(http, body, None) == expected
