"""A session that ends ends its subscriptions too, at once and on every worker.

Two server processes share the database and a Redis broker. Carol listens on A (a chat
room and her link's visits); her session is ended through B; both subscriptions end
with UNAUTHENTICATED within a second, and a new subscription with her token is refused.
"""

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
import websockets

from tests.support.chat import CREATE_ROOM, EVENTS
from tests.support.client import gql
from tests.support.server import open_subscriptions, run_cli, running_server, workers_env
from tests.support.settings import TEST_PASSWORD
from tests.support.users import register_over_http
from tests.support.wait import eventually

PASSWORD = TEST_PASSWORD
LOGIN = """mutation($input: LoginInput!) {
  login(input: $input) { user { id } accessToken refreshToken } }"""
SHORTEN = """mutation { shortenUrl(input: {url: "https://example.com/a"}) {
  shortUrl { code } } }"""
VISITS = "subscription($code: String!) { shortUrlVisits(code: $code) { id } }"
ENDINGS = {
    "logout": ("mutation($t: String!) { logout(input: {refreshToken: $t}) { ok } }", "self"),
    "changePassword": (
        "mutation($p: String!) { changePassword(input: {currentPassword: $p,"
        ' newPassword: "another long pw"}) { user { id } } }',
        "self",
    ),
    "disable": (
        "mutation($id: ID!) { updateUser(input: {id: $id, isActive: false}) { user { id } } }",
        "admin",
    ),
    "deleteUser": ("mutation($id: ID!) { deleteUser(input: {id: $id}) { deletedId } }", "self"),
    # A refresh token used twice: the second use revokes the session.
    "reuse": (
        "mutation($t: String!) { refreshToken(input: {refreshToken: $t}) { accessToken } }",
        "twice",
    ),
}


def subscriptions(url: str) -> tuple[float, float]:
    """The chatEvents and shortUrlVisits subscriptions the server at `url` runs."""
    return open_subscriptions(url, "chatEvents"), open_subscriptions(url, "shortUrlVisits")


async def open_socket(url: str, token: str) -> websockets.ClientConnection:
    socket = await websockets.connect(
        url.replace("http", "ws") + "/graphql", subprotocols=["graphql-transport-ws"]
    )
    await socket.send(json.dumps({"type": "connection_init", "payload": {"authToken": token}}))
    assert json.loads(await socket.recv())["type"] == "connection_ack"
    return socket


async def start(socket: websockets.ClientConnection, id: str, query: str, **variables: Any) -> None:
    payload = {"query": query, "variables": variables}
    await socket.send(json.dumps({"id": id, "type": "subscribe", "payload": payload}))


async def outcomes(
    socket: websockets.ClientConnection, ids: set[str], within: float
) -> dict[str, list[str]]:
    """The error codes that ended each operation of `ids` (events and pings skipped)."""
    deadline = time.monotonic() + within
    codes: dict[str, list[str]] = {id: [] for id in ids}
    done: set[str] = set()
    while done != ids:
        message = json.loads(await asyncio.wait_for(socket.recv(), deadline - time.monotonic()))
        id = message.get("id")
        if id not in ids:
            continue
        if message["type"] == "error":  # refused at the start
            codes[id] = [e["extensions"]["code"] for e in message["payload"]]
            done.add(id)
        elif message["type"] == "next" and "errors" in message["payload"]:
            codes[id] += [e["extensions"]["code"] for e in message["payload"]["errors"]]
        elif message["type"] == "complete":
            done.add(id)
    return codes


async def test_an_ended_session_ends_its_subscriptions_on_every_worker(
    tmp_path: Path, server_database_url: str
) -> None:
    env = await workers_env(tmp_path, server_database_url)
    admin = ["create-user", "--email", "root@example.com", "--username", "root", "--admin"]
    assert run_cli(*admin, "--password", PASSWORD, env=env, cwd=tmp_path).returncode == 0
    with running_server(env, tmp_path) as a, running_server(env, tmp_path) as b:
        root = await gql(b, None, LOGIN, {"input": {"login": "root", "password": PASSWORD}})
        await gql(b, root["accessToken"], CREATE_ROOM)
        for ending, (query, who) in ENDINGS.items():
            name = f"carol-{ending.lower()}"
            carol = await register_over_http(a, name, PASSWORD)
            token = carol["accessToken"]
            code = (await gql(a, token, SHORTEN))["shortUrl"]["code"]
            # Carol's other session, which logout and reuse leave alive.
            other = await gql(a, None, LOGIN, {"input": {"login": name, "password": PASSWORD}})
            # The last round's subscriptions have ended: what is counted next is this one's.
            await eventually(lambda: subscriptions(a), lambda n: n == (0, 0), what="ended")
            socket = await open_socket(a, token)
            bystander = await open_socket(a, other["accessToken"])
            try:
                await start(socket, "chat", EVENTS, room="general")
                await start(socket, "visits", VISITS, code=code)
                await start(bystander, "chat", EVENTS, room="general")
                await eventually(  # both subscribed: her chat and visits, the bystander's chat
                    lambda: subscriptions(a), lambda n: n == (2, 1), what="subscribed"
                )

                variables = {"t": carol["refreshToken"], "p": PASSWORD, "id": carol["user"]["id"]}
                used = {k: v for k, v in variables.items() if f"${k}" in query}
                if who == "twice":
                    assert (await gql(b, None, query, used))["accessToken"]  # rotated: still on
                await gql(b, token if who == "self" else root["accessToken"], query, used)
                ended_at = time.monotonic()
                ended = await outcomes(socket, {"chat", "visits"}, within=1.0)
                assert ended == {"chat": ["UNAUTHENTICATED"], "visits": ["UNAUTHENTICATED"]}
                assert time.monotonic() - ended_at < 1.0, ending
                # The same connection cannot start another with the ended session's token.
                await start(socket, "again", EVENTS, room="general")
                assert await outcomes(socket, {"again"}, within=2.0) == {
                    "again": ["UNAUTHENTICATED"]
                }
                if ending in ("logout", "reuse"):  # her other session is not touched
                    with pytest.raises(TimeoutError):
                        await outcomes(bystander, {"chat"}, within=1.0)
            finally:
                await socket.close()
                await bystander.close()
