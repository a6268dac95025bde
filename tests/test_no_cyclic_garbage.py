"""Requests leave no reference cycles behind: what one allocates is freed as it ends.

Garbage in a cycle waits for a full collection, which CPython runs only once the objects that
survived the younger ones have grown by a quarter. A server whose every request or connection
left a cycle would hold far more memory than it uses, in peaks that the allocator keeps
(`scripts/bench --soak` saw that: +15% over four rounds, from one cycle per closed socket).
So the work of a busy server (reads of every type, writes, errors, redirects, a
subscription's socket opened and closed) runs here with the collector saving what it finds,
once it has warmed every cache, and the collector must find nothing but a few of
SQLAlchemy's own expression objects (below).
"""

import asyncio
import gc
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi import FastAPI

from tests.support.chat import SEND, START, create_room
from tests.support.client import AsgiWebSocket
from tests.support.items import CREATE_ITEM
from tests.support.links import BROWSER, shorten
from tests.support.users import SignedIn
from tests.support.wait import eventually

READS = [
    "{ me { id username email items(first: 5) { totalCount nodes { id title price } } } }",
    "{ users(first: 20) { nodes { id username items(first: 5) { nodes { id title } } } } }",
    '{ items(first: 20, tag: "a") { totalCount pageInfo { hasNextPage endCursor }'
    " edges { cursor node { id title price tax priceWithTax tags owner { username } } } } }",
    "{ myShortUrls(first: 10) { totalCount nodes { id code shortUrl tags visitCount"
    " visits(first: 5) { totalCount nodes { browser isBot } }"
    " visitStats { total buckets { visits } browsers { value visits } } owner { username } } } }",
    '{ chatRoom(name: "general") { name onlineUsers { username } } }',
]
FAILING = [
    "{ nope }",  # a validation error
    "{ item(id: 12) { id } }",  # a value of the wrong type
    "{ shortUrl(code: $code) { code targetUrl } }",  # an undefined variable
    '{ item(id: "SXRlbTo5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OQ==") { id } }',  # an id out of range
]
VISITS = "query($code: String!) { shortUrl(code: $code) { code visitCount } }"
EVENTS = 'subscription { chatEvents(room: "general") { __typename } }'


async def call(
    app: FastAPI, method: str, path: str, headers: dict[str, str], body: bytes = b""
) -> tuple[int, bytes]:
    """One HTTP request in plain ASGI: its status and body. (Not httpx's ASGI transport,
    whose response and stream make a cycle of their own: what is found is the server's.)"""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver")]
        + [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }
    done = asyncio.Event()
    request = [{"type": "http.request", "body": body, "more_body": False}]
    status, chunks = 0, []

    async def receive() -> dict[str, Any]:
        if request:
            return request.pop()
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                done.set()

    await app(scope, receive, send)
    return status, b"".join(chunks)


async def graphql(
    app: FastAPI, token: str, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    body = orjson.dumps({"query": query, "variables": variables})
    status, answer = await call(app, "POST", "/graphql", headers, body)
    assert status == 200, answer
    return orjson.loads(answer)  # type: ignore[no-any-return]


async def a_round(app: FastAPI, token: str, code: str) -> None:
    """The work above, once."""
    for query in READS:
        assert "errors" not in await graphql(app, token, query), query
    for query in FAILING:
        assert (await graphql(app, token, query))["errors"], query
    assert "errors" not in await graphql(app, token, VISITS, {"code": code})
    await graphql(app, token, CREATE_ITEM, {"input": {"title": "Lamp", "price": "10"}})
    await graphql(app, token, CREATE_ITEM, {"input": {"title": "", "price": "-1"}})  # userErrors
    await graphql(app, token, SEND, {"input": {"room": "general", "text": "hello"}})
    status, _ = await call(app, "GET", f"/{code}", {"User-Agent": BROWSER})
    assert status in (301, 302, 307, 308)
    assert (await call(app, "GET", "/missing-code", {"User-Agent": BROWSER}))[0] == 404
    for subprotocol, start in START.items():
        socket = AsgiWebSocket(app, subprotocol)
        await socket.open()
        await socket.send({"type": "connection_init", "payload": {"authToken": token}})
        assert (await socket.receive())["type"] == "connection_ack"
        await socket.send({"id": "1", "type": start, "payload": {"query": EVENTS}})
        assert (await socket.receive())["payload"]["data"]["chatEvents"]
        await socket.close()


# SQLAlchemy's own: an expression element built for one statement memoizes things that
# point back at it (a bound parameter's set of clones holds itself; a function's comparator
# holds the function). A few objects per statement built anew, in the library: allowed.
# Everything else, and above all anything of a request or a connection, is not.
CONTAINERS = (dict, list, set, frozenset, tuple)


def sqlalchemy_expression(o: object) -> bool:
    return type(o) in CONTAINERS or type(o).__module__.startswith("sqlalchemy.sql.")


async def garbage_of(work: Callable[[], Awaitable[None]]) -> Counter[str]:
    """What the collector finds unreachable after `work` (run collected), less SQLAlchemy's
    expression cycles, by type."""
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        await work()
        gc.collect()
        found = list(gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    return Counter(type(o).__qualname__ for o in found if not sqlalchemy_expression(o))


async def test_the_work_of_a_server_leaves_no_cycles(app: FastAPI, alice: SignedIn) -> None:
    await create_room(alice, "general")
    code = (await shorten(alice, tags=["a"]))["code"]
    token = alice.client.token
    assert token is not None
    for _ in range(2):  # every document parsed and validated, every statement compiled
        await a_round(app, token, code)

    async def visits() -> int:
        answer = await graphql(app, token, VISITS, {"code": code})
        return answer["data"]["shortUrl"]["visitCount"]  # type: ignore[no-any-return]

    async def measured() -> None:
        await a_round(app, token, code)
        # The visit recorder has written this round's visit too.
        await eventually(visits, lambda n: n == 3, what="the third visit recorded")

    found = await garbage_of(measured)
    assert not found, f"reference cycles left behind: {found.most_common(12)}"
