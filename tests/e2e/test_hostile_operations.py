"""Thousands of operations generated from the schema, and a corpus of hostile requests,
against a live server: never a 5xx, never a masked internal error, never a traceback,
SQL or a secret in an answer; and the server still answers afterwards.

HOSTILE_EXAMPLES sets how many operations hypothesis-graphql generates per root type
(queries, mutations); `scripts/fuzz` runs a larger count.
"""

import asyncio
import os
import time
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path
from typing import Any

import graphql
import httpx
import orjson
import pytest
import websockets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import mutations, nodes, queries

from graphql_api.core.settings import Settings
from tests.support.server import cli_env, run_cli, running_server
from tests.support.users import REGISTER

SCHEMA = (Path(__file__).parents[2] / "schema.graphql").read_text()
EXAMPLES = int(os.environ.get("HOSTILE_EXAMPLES", "2500"))
SECRET = "hostile-input-secret-" + "s" * 40
WS_INIT_TIMEOUT = 3  # seconds: long enough for every idle socket to be open at once
PASSWORD = "hostile input password"
# Text that only a leaked internal error could put into an answer.
LEAKS = (
    "Traceback",
    'File "/',
    "sqlalchemy",
    "asyncpg",
    "aiosqlite",
    "sqlite3.",
    "SELECT ",
    "INSERT INTO",
    "DELETE FROM",
    SECRET,
    "$argon2",
)
SCALARS: dict[str, st.SearchStrategy[graphql.ValueNode]] = {
    "DateTime": st.one_of(
        st.datetimes(timezones=st.just(UTC)).map(lambda moment: moment.isoformat()), st.text()
    ).map(nodes.String),
    "Decimal": st.one_of(st.decimals(allow_nan=True, allow_infinity=True).map(str), st.text()).map(
        nodes.String
    ),
    "Upload": st.just(graphql.NullValueNode()),
}


class Server:
    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=30)
        self.token = token

    def post(self, body: bytes, headers: dict[str, Any] | None = None) -> httpx.Response:
        return self.http.post(
            "/graphql",
            content=body,
            headers={"Content-Type": "application/json", **(headers or {})},
        )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp_path = tmp_path_factory.mktemp("hostile")
    env = cli_env(
        tmp_path,
        GRAPHQL_API_SECRET_KEY=SECRET,
        GRAPHQL_API_WS_INIT_TIMEOUT_SECONDS=str(WS_INIT_TIMEOUT),
    )
    assert run_cli("migrate", env=env, cwd=tmp_path).returncode == 0
    with running_server(env, tmp_path) as url:
        variables = {"input": {"email": "eve@example.com", "username": "eve", "password": PASSWORD}}
        answer = httpx.post(f"{url}/graphql", json={"query": REGISTER, "variables": variables})
        server = Server(url, answer.json()["data"]["register"]["accessToken"])
        yield server
        server.http.close()
        log = next(tmp_path.glob("server-*.log")).read_text()
        assert "Traceback" not in log, log[-5000:]


def assert_safe(response: httpx.Response, sent: str = "") -> None:
    """No server fault and no leak; text the client sent itself may come back quoted."""
    assert response.status_code < 500, response.text
    text = response.text
    for leak in LEAKS:
        assert leak not in text or leak in sent, (leak, text)
    if response.headers.get("content-type", "").startswith("application/json"):
        body = orjson.loads(response.content)
        if isinstance(body, dict):
            codes = [e.get("extensions", {}).get("code") for e in body.get("errors") or []]
            assert "INTERNAL_SERVER_ERROR" not in codes, text


def check(server: Server, query: str, signed_in: bool) -> None:
    headers = {"Authorization": f"Bearer {server.token}"} if signed_in else {}
    assert_safe(server.post(orjson.dumps({"query": query}), headers), sent=query)


HYPOTHESIS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,  # the same operations on every run: a failure is reproducible
    suppress_health_check=list(HealthCheck),
)


@HYPOTHESIS
@given(query=queries(SCHEMA, custom_scalars=SCALARS), signed_in=st.booleans())
def test_generated_queries(server: Server, query: str, signed_in: bool) -> None:
    check(server, query, signed_in)


@HYPOTHESIS
@given(mutation=mutations(SCHEMA, custom_scalars=SCALARS), signed_in=st.booleans())
def test_generated_mutations(server: Server, mutation: str, signed_in: bool) -> None:
    check(server, mutation, signed_in)


def json_body(**fields: Any) -> bytes:
    return orjson.dumps(fields)


ME = "query { me { id } }"
# 30 argon2 hashes in one request, under the alias limit: the expensive-mutation limit's.
ALIASED_REGISTERS = (
    "mutation { "
    + " ".join(
        f'r{n}: register(input: {{email: "sybil{n}@example.com", username: "sybil{n}", '
        f'password: "{PASSWORD}"}}) {{ accessToken }}'
        for n in range(30)
    )
    + " }"
)


DIRECTIVE = "query Directive($b: Boolean = true) { items { totalCount @include(if: $b) } }"
CORPUS: dict[str, tuple[bytes, dict[str, Any]]] = {
    "deep nesting": (json_body(query="{ me " + "{ items { nodes " * 500 + "}" * 1001), {}),
    "deep JSON": (
        b'{"query": "{ me { id } }", "variables": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        {},
    ),
    "1,000 aliases": (
        json_body(query="{ " + " ".join(f"a{n}: me {{ id }}" for n in range(1000)) + " }"),
        {},
    ),
    "a huge token": (
        json_body(query='{ items(search: "' + "x" * 2_000_000 + '") { totalCount } }'),
        {},
    ),
    "a huge number": (json_body(query="{ items(first: " + "9" * 5000 + ") { totalCount } }"), {}),
    "circular fragments": (
        json_body(query="{ me { ...A } } fragment A on User { ...B } fragment B on User { ...A }"),
        {},
    ),
    "a fragment bomb": (
        json_body(
            query="{ me { ...F19 } } "
            + " ".join(
                ["fragment F0 on User { id }"]
                + [
                    f"fragment F{n} on User {{ ...F{n - 1} items {{ nodes {{ owner "
                    f"{{ ...F{n - 1} }} }} }} }}"
                    for n in range(1, 20)
                ]
            )
        ),
        {},
    ),
    "aliased registers": (json_body(query=ALIASED_REGISTERS), {}),
    "a batch": (orjson.dumps([{"query": ME}] * 1000), {}),
    "malformed JSON": (b'{"query": "{ me { id } }"', {}),
    "not JSON at all": (b"\x00\x01\x02", {}),
    "invalid UTF-8": (b'{"query": "{ items(search: \\"\xff\xfe\\") { totalCount } }"}', {}),
    "a lone surrogate": (b'{"query": "{ items(search: \\"\\ud800\\") { totalCount } }"}', {}),
    "a NUL": (b'{"query": "{ items(search: \\"a\\u0000b\\") { totalCount } }"}', {}),
    "10 MB": (json_body(query=ME, variables={"x": "y" * 10_000_000}), {}),
    "text/plain": (json_body(query=ME), {"Content-Type": "text/plain"}),
    "a form": (
        b"query=%7B+me+%7B+id+%7D+%7D",
        {"Content-Type": "application/x-www-form-urlencoded"},
    ),
    "XML": (b"<query>{ me { id } }</query>", {"Content-Type": "application/xml"}),
    "no content type": (json_body(query=ME), {"Content-Type": ""}),
    "variables of the wrong type": (
        json_body(
            query="query($n: Int) { items(first: $n) { totalCount } }", variables={"n": "many"}
        ),
        {},
    ),
    "variables not an object": (json_body(query=ME, variables=["a"]), {}),
    "input of the wrong shape": (
        json_body(
            query="mutation($input: CreateItemInput!) "
            "{ createItem(input: $input) { item { id } } }",
            variables={"input": [1, 2]},
        ),
        {},
    ),
    "an unknown operation name": (json_body(query=ME, operationName="Nope"), {}),
    "a forged token": (
        json_body(query=ME),
        {"Authorization": "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0."},
    ),
    "a malformed authorization": (json_body(query=ME), {"Authorization": b"Basic \xff\xfe"}),
    # Seen once, then with a null for the directive: the fast path and the plans see it.
    "a directive, first": (json_body(query=DIRECTIVE), {}),
    "a directive given null": (json_body(query=DIRECTIVE, variables={"b": None}), {}),
}


@pytest.mark.parametrize("name", CORPUS)
def test_hostile_requests(server: Server, name: str) -> None:
    body, headers = CORPUS[name]
    assert_safe(server.post(body, headers))


@pytest.mark.parametrize(
    "params",
    [
        {"query": 'mutation { logout(input: {refreshToken: "x"}) { userErrors { code } } }'},
        {"query": ME, "variables": "{not json"},
        {"query": "{" * 10_000},
    ],
)
def test_hostile_gets(server: Server, params: dict[str, str]) -> None:
    assert_safe(server.http.get("/graphql", params=params, headers={"Accept": "application/json"}))


async def test_aliased_registers_are_refused_whole_over_http_and_websocket(
    server: Server,
) -> None:
    def refused(errors: list[dict[str, Any]]) -> None:
        (error,) = errors
        assert error["extensions"]["limit"] == "expensiveMutations", error

    body = server.post(json_body(query=ALIASED_REGISTERS)).json()
    assert body["data"] is None
    refused(body["errors"])
    ws_url = server.url.replace("http", "ws", 1) + "/graphql"
    async with websockets.connect(ws_url, subprotocols=["graphql-transport-ws"]) as socket:
        init = {"type": "connection_init", "payload": {"authToken": server.token}}
        await socket.send(orjson.dumps(init).decode())
        assert orjson.loads(await socket.recv())["type"] == "connection_ack"
        subscribe = {"id": "1", "type": "subscribe", "payload": {"query": ALIASED_REGISTERS}}
        await socket.send(orjson.dumps(subscribe).decode())
        async with asyncio.timeout(10):
            answer = orjson.loads(await socket.recv())
        assert answer["type"] == "error", answer
        refused(answer["payload"])
    sybils = 'query { users(search: "sybil") { totalCount } }'
    headers = {"Authorization": f"Bearer {server.token}"}
    found = server.post(json_body(query=sybils), headers).json()
    assert found["data"]["users"]["totalCount"] == 0, found


async def test_many_idle_sockets(server: Server) -> None:
    """Sockets opened and never used (1,000 of them once used up the file descriptors): one
    address holds at most its cap of them, and those time out for want of connection_init."""
    cap = Settings.model_fields["ws_max_connections_per_address"].default
    url = server.url.replace("http", "ws") + "/graphql"
    protocols = ["graphql-ws", "graphql-transport-ws"]

    async def closed_with(n: int) -> int | None:
        async with websockets.connect(url, subprotocols=[protocols[n % 2]]) as socket:
            with pytest.raises(websockets.ConnectionClosed):
                async with asyncio.timeout(WS_INIT_TIMEOUT + 5):
                    await socket.recv()
            return socket.close_code

    codes = await asyncio.gather(*(closed_with(n) for n in range(4 * cap)))
    assert codes.count(4408) == cap
    assert codes.count(4429) == 3 * cap


# Three nested pages of $n: cheap at 1, over the cost limit at 20 or 100.
PAGES = (
    "query Pages($n: Int = 1) { items(first: $n) { nodes { owner { items(first: $n) "
    "{ nodes { owner { items(first: $n) { nodes { id } } } } } } } } }"
)
# 2,000 QR codes.
QR_CODES = (
    "{ "
    + " ".join(f"a{n}: myShortUrls(first: 100) {{ nodes {{ qrCodeSvg }} }}" for n in range(20))
    + " }"
)


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        pytest.param(PAGES, {"n": 100.0}, id="a float page size"),
        pytest.param(PAGES, {"n": None}, id="a null page size"),
        pytest.param(QR_CODES, {}, id="QR codes"),
    ],
)
def test_amplifications_are_refused_by_the_cost_limit(
    server: Server, query: str, variables: dict[str, Any]
) -> None:
    headers = {"Authorization": f"Bearer {server.token}"}
    for sent in ({}, {}, variables):  # seen before (the fast path too), at the cheap price
        response = server.post(json_body(query=query, variables=sent), headers)
    assert_safe(response)
    (error,) = response.json()["errors"]
    assert error["extensions"]["limit"] == "cost", error


# Many lists on one level: each used to take a pool connection of its own (and the
# whole level stalled for the pool's 30 s timeout); and aliased searches of every item.
WIDE = {
    "aliased lists": " ".join(f"a{n}: items(first: 1) {{ nodes {{ id }} }}" for n in range(25)),
    "rooms with messages": "chatRooms(first: 25) { nodes { messages { totalCount } } }",
    "links with visits": "myShortUrls(first: 25) { nodes { visits { totalCount } } }",
    "aliased searches": " ".join(
        f'a{n}: items(first: 20, search: "term{n}") {{ totalCount }}' for n in range(30)
    ),
}


@pytest.mark.parametrize("name", list(WIDE))
def test_many_lists_on_one_level_answer_at_once(server: Server, name: str) -> None:
    headers = {"Authorization": f"Bearer {server.token}"}
    started = time.monotonic()
    response = server.post(json_body(query="{ " + WIDE[name] + " }"), headers)
    assert_safe(response)
    assert "errors" not in response.json(), response.text
    assert time.monotonic() - started < 5


def test_the_server_still_answers_afterwards(server: Server) -> None:
    response = server.post(json_body(query=ME), {"Authorization": f"Bearer {server.token}"})
    assert response.status_code == 200
    assert response.json()["data"]["me"]["id"]
