"""Subscription fan-out (`core.graphql.fanout`) against live servers.

Two servers share one database and one Redis, so every event reaches both: A executes
each event once per shape, as shipped; B has `subscription_fanout` off and executes it
for every subscriber, as before. For generated chatEvents documents (fragments, aliases,
`__typename`, every member of the union, viewer-dependent fields) and viewers who see
different things (an author, another user, an admin), on both subprotocols, each
subscriber of A receives byte for byte the frames its twin on B receives.
"""

import asyncio
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import websockets
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from tests.support.chat import CREATE_ROOM, KEEP_ALIVE, START, TYPING, send
from tests.support.client import gql
from tests.support.databases import BACKENDS, open_database, server_database
from tests.support.generated import examples
from tests.support.server import running_server, server_log, workers_env
from tests.support.users import sign_up_over_http

# scripts/fuzz sets FANOUT_EXAMPLES: more documents, new ones every run.
DOCUMENTS = int(os.environ.get("FANOUT_EXAMPLES", "12"))
FUZZING = "FANOUT_EXAMPLES" in os.environ
VIEWERS = ("alice", "bob", "root")  # root is an admin
PROTOCOLS = ("graphql-transport-ws", "graphql-ws")
QUIET = 0.5  # seconds without a frame: everything in flight has arrived
EVENT = (
    'subscription {{ chatEvents(room: "general") {{ ... on MessageSent {{ message {{ {} }} }} }} }}'
)


def _aliased(draw: st.DrawFn, name: str) -> str:
    alias = draw(st.sampled_from(["", "a_", "b_"]))
    return f"{alias}{name}: {name}" if alias else name


@st.composite
def _user(draw: st.DrawFn) -> str:
    fields = draw(st.lists(st.sampled_from(["id", "username", "email"]), min_size=1, max_size=3))
    return "{ " + " ".join(_aliased(draw, f) for f in fields) + " }"


@st.composite
def _message(draw: st.DrawFn) -> str:
    choices = ["id", "text", "sentAt", "author", "room"]
    fields = draw(st.lists(st.sampled_from(choices), min_size=1, max_size=5, unique=True))
    parts = []
    for name in fields:
        if name == "author":
            parts.append(f"{_aliased(draw, 'author')} {draw(_user())}")
        elif name == "room":
            parts.append(f"{_aliased(draw, 'room')} {{ name title }}")
        else:
            parts.append(_aliased(draw, name))
    return "{ " + " ".join(parts) + " }"


@st.composite
def documents(draw: st.DrawFn) -> str:
    """A chatEvents subscription: inline fragments, a named one, or both."""
    parts, fragments = [], []
    if draw(st.booleans()):
        parts.append(_aliased(draw, "__typename"))
    message = f"message {draw(_message())}"
    if draw(st.booleans()):
        fragments.append(f"fragment Sent on MessageSent {{ {message} }}")
        parts.append("...Sent")
    else:
        parts.append(f"... on MessageSent {{ {message} }}")
    if draw(st.booleans()):
        parts.append(f"... on UserTyping {{ {_aliased(draw, 'typing')} user {draw(_user())} }}")
    for kind in ("UserJoined", "UserLeft"):
        if draw(st.booleans()):
            parts.append(f"... on {kind} {{ user {draw(_user())} }}")
    variables = draw(st.booleans())
    head = "subscription($room: String!)" if variables else "subscription"
    room = "$room" if variables else '"general"'
    body = f"{head} {{ chatEvents(room: {room}) {{ {' '.join(parts)} }} }}"
    return " ".join([body, *fragments])


@dataclass
class Listener:
    """One socket of one viewer, with every generated document subscribed on it."""

    socket: websockets.ClientConnection
    frames: dict[str, list[str]] = field(default_factory=dict)

    async def read(self) -> None:
        async for frame in self.socket:
            message = json.loads(frame)
            if message["type"] in KEEP_ALIVE or "id" not in message:  # a connection_ack
                continue
            self.frames.setdefault(message["id"], []).append(str(frame))


async def listen(url: str, token: str, protocol: str, docs: list[str]) -> Listener:
    socket = await websockets.connect(
        url.replace("http", "ws") + "/graphql", subprotocols=[protocol], max_queue=None
    )
    await socket.send(json.dumps({"type": "connection_init", "payload": {"authToken": token}}))
    assert json.loads(await socket.recv())["type"] == "connection_ack"
    for n, query in enumerate(docs):
        payload = {"query": query, "variables": {"room": "general"}}
        await socket.send(json.dumps({"id": f"d{n}", "type": START[protocol], "payload": payload}))
    return Listener(socket)


async def quiet(listeners: list[Listener]) -> None:
    """Wait until no listener has had a frame for QUIET seconds."""
    while True:
        before = [sum(map(len, li.frames.values())) for li in listeners]
        await asyncio.sleep(QUIET)
        if before == [sum(map(len, li.frames.values())) for li in listeners]:
            return


@asynccontextmanager
async def hearing(
    listeners: list[Listener], subscriptions: int, warm_up: Callable[[], Awaitable[object]]
) -> AsyncIterator[None]:
    """Read every listener. Once each of its `subscriptions` has heard what `warm_up` sends
    (then it listens) and all is quiet, forget what they heard; close them at the end."""
    readers = [asyncio.create_task(listener.read()) for listener in listeners]
    try:
        while not all(len(li.frames) == subscriptions for li in listeners):
            await warm_up()
            await asyncio.sleep(0.1)
        await quiet(listeners)
        for listener in listeners:
            listener.frames.clear()
        yield
        await quiet(listeners)
    finally:
        for reader in readers:
            reader.cancel()
        for listener in listeners:
            await listener.socket.close()


def executions(url: str) -> float:
    text = httpx.get(f"{url}/metrics", headers={"Connection": "close"}).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "graphql_api_subscription_event_executions_total"
    )


@pytest.fixture(params=BACKENDS)
async def servers(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[str, str, dict[str, str]]]:
    """A (fan-out on) and B (off) over one database and one Redis; tokens by viewer."""
    async with server_database(request.param, tmp_path) as database_url:
        env = await workers_env(tmp_path, database_url)
        env["GRAPHQL_API_WS_MAX_SUBSCRIPTIONS"] = str(max(100, DOCUMENTS))
        off = {**env, "GRAPHQL_API_SUBSCRIPTION_FANOUT": "false"}
        with running_server(env, tmp_path) as a, running_server(off, tmp_path) as b:
            tokens = {name: await sign_up_over_http(a, name) for name in (*VIEWERS, "dave")}
            async with open_database(database_url) as rows:
                await rows("UPDATE users SET role = 'ADMIN' WHERE username = 'root'")
            await gql(a, tokens["alice"], CREATE_ROOM)
            yield a, b, tokens
        assert "Traceback" not in server_log(tmp_path), server_log(tmp_path)[-5000:]


async def test_every_subscriber_gets_what_per_subscriber_execution_sends(
    servers: tuple[str, str, dict[str, str]],
) -> None:
    a, b, tokens = servers
    docs = examples(documents(), DOCUMENTS, derandomize=not FUZZING)
    twins = [
        (
            await listen(a, tokens[viewer], protocol, docs),
            await listen(b, tokens[viewer], protocol, docs),
        )
        for viewer in VIEWERS
        for protocol in PROTOCOLS
    ]
    listeners = [listener for pair in twins for listener in pair]
    async with hearing(listeners, len(docs), lambda: gql(a, tokens["alice"], TYPING)):
        await send(a, tokens["alice"], 'say "hi" ✓ <b>\u2028')
        await send(b, tokens["bob"], "from bob, through B")
        await send(a, tokens["root"], "an admin's")
        await gql(b, tokens["bob"], TYPING)
        dave = await listen(a, tokens["dave"], "graphql-transport-ws", docs[:1])
        await send(a, tokens["dave"], "dave's")
        await dave.socket.close()  # UserLeft

    for shared, each in twins:
        assert shared.frames == each.frames
    # Both heard all of it: 4 messages, a typing notice, dave coming and going.
    assert all(len(frames) == 7 for frames in twins[0][0].frames.values()), twins[0][0].frames


async def test_an_event_is_executed_once_per_shape_and_per_viewer_where_it_shows(
    servers: tuple[str, str, dict[str, str]],
) -> None:
    a, b, tokens = servers
    public = EVENT.format("text author { username }")
    private = EVENT.format("author { username email }")
    per_viewer = 5
    listeners = {
        (server, viewer, query): [
            await listen(server, tokens[viewer], "graphql-transport-ws", [query])
            for _ in range(per_viewer)
        ]
        for server in (a, b)
        for viewer in VIEWERS
        for query in (public, private)
    }
    everyone = [li for group in listeners.values() for li in group]
    async with hearing(everyone, 1, lambda: send(a, tokens["dave"], "warming up")):
        before = executions(a), executions(b)
        await send(a, tokens["alice"], "counted")
        await quiet(everyone)
        after = executions(a), executions(b)

    subscribers = len(VIEWERS) * per_viewer
    # A: the public shape once for everyone, the private one once per viewer.
    assert after[0] - before[0] == 1 + len(VIEWERS)
    # B: once per subscriber.
    assert after[1] - before[1] == 2 * subscribers
    for (_, viewer, query), group in listeners.items():
        for listener in group:
            (frame,) = listener.frames["d0"]
            message = json.loads(frame)["payload"]["data"]["chatEvents"]["message"]
            assert message["author"]["username"] == "alice"
            if query == private:
                # Her own address to alice and to the admin; null to bob.
                shows = viewer in ("alice", "root")
                assert message["author"]["email"] == ("alice@example.com" if shows else None)


async def test_a_graphql_ws_client_that_signs_in_again_is_grouped_as_who_it_is_now(
    servers: tuple[str, str, dict[str, str]],
) -> None:
    """graphql-ws takes connection_init again: the socket answers as its new token from
    then on, and what it sees never reaches the others of its old group."""
    a, b, tokens = servers
    private = [EVENT.format("text author { username email }")]
    pairs = {
        server: (
            await listen(server, tokens["alice"], "graphql-ws", private),
            await listen(server, tokens["alice"], "graphql-transport-ws", private),
        )
        for server in (a, b)
    }
    everyone = [listener for pair in pairs.values() for listener in pair]
    async with hearing(everyone, 1, lambda: send(a, tokens["dave"], "warming up")):
        for switching, _ in pairs.values():
            init = {"type": "connection_init", "payload": {"authToken": tokens["bob"]}}
            await switching.socket.send(json.dumps(init))
        await quiet(everyone)
        await send(a, tokens["bob"], "by bob")
        await send(a, tokens["alice"], "by alice")

    (switched_a, stayed_a), (switched_b, stayed_b) = pairs[a], pairs[b]
    assert switched_a.frames["d0"] == switched_b.frames["d0"]
    assert stayed_a.frames["d0"] == stayed_b.frames["d0"]
    assert "bob@example.com" not in "".join(stayed_a.frames["d0"])
    assert len(stayed_a.frames["d0"]) == 2
