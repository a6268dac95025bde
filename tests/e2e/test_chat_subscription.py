"""chatEvents over a real WebSocket (graphql-transport-ws) against a running server."""

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import websockets

from tests.cli_helpers import cli_env, run_cli, running_server, sign_up_over_http

EVENTS = """subscription($room: String!, $after: ID) { chatEvents(room: $room, after: $after) {
  __typename
  ... on MessageSent { message { id text author { username } } }
  ... on UserTyping { typing user { username } } } }"""


async def gql(url: str, token: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}) as c:
        body = (await c.post("/graphql", json={"query": query, "variables": variables})).json()
    assert "errors" not in body, body
    (payload,) = body["data"].values()
    return payload  # type: ignore[no-any-return]


async def send(url: str, token: str, text: str) -> dict[str, Any]:
    payload = await gql(
        url,
        token,
        """mutation($input: SendMessageInput!) {
        sendMessage(input: $input) { message { id } userErrors { code } } }""",
        {"input": {"room": "general", "text": text}},
    )
    return payload["message"]  # type: ignore[no-any-return]


async def events(url: str, token: str, after: str | None = None) -> Any:
    socket = await websockets.connect(
        url.replace("http", "ws") + "/graphql", subprotocols=["graphql-transport-ws"]
    )
    await socket.send(json.dumps({"type": "connection_init", "payload": {"authToken": token}}))
    assert json.loads(await socket.recv())["type"] == "connection_ack"
    await socket.send(
        json.dumps(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": EVENTS, "variables": {"room": "general", "after": after}},
            }
        )
    )
    await asyncio.sleep(0.2)  # subscribed
    return socket


async def receive(socket: Any) -> dict[str, Any]:
    message = json.loads(await asyncio.wait_for(socket.recv(), timeout=2))
    assert message["type"] == "next", message
    return message["payload"]["data"]["chatEvents"]  # type: ignore[no-any-return]


CREATE_ROOM = 'mutation { createChatRoom(input: {name: "general"}) { chatRoom { id } } }'
TYPING = 'mutation { setTyping(input: {room: "general", typing: true}) { ok } }'


async def test_messages_and_typing_live_and_missed_ones_replayed(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    assert run_cli("migrate", env=env, cwd=tmp_path).returncode == 0
    with running_server(env, tmp_path) as url:
        alice, bob = await sign_up_over_http(url, "alice"), await sign_up_over_http(url, "bob")
        await gql(url, alice, CREATE_ROOM, {})
        first = await send(url, alice, "hello")
        async with await events(url, bob) as socket:
            second = await send(url, alice, "are you there?")
            assert await receive(socket) == {
                "__typename": "MessageSent",
                "message": {
                    "id": second["id"],
                    "text": "are you there?",
                    "author": {"username": "alice"},
                },
            }
            assert (await gql(url, alice, TYPING, {}))["ok"] is True
            assert await receive(socket) == {
                "__typename": "UserTyping",
                "typing": True,
                "user": {"username": "alice"},
            }
        # Bob was away: subscribing after the first message replays what he missed, once.
        third = await send(url, alice, "bob?")
        async with await events(url, bob, after=first["id"]) as socket:
            replayed = [await receive(socket), await receive(socket)]
            assert [e["message"]["id"] for e in replayed] == [second["id"], third["id"]]
            fourth = await send(url, alice, "welcome back")
            assert (await receive(socket))["message"]["id"] == fourth["id"]


async def test_the_legacy_graphql_ws_protocol_works_too(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    assert run_cli("migrate", env=env, cwd=tmp_path).returncode == 0
    with running_server(env, tmp_path) as url:
        alice, bob = await sign_up_over_http(url, "alice"), await sign_up_over_http(url, "bob")
        await gql(url, alice, CREATE_ROOM, {})
        async with websockets.connect(
            url.replace("http", "ws") + "/graphql", subprotocols=["graphql-ws"]
        ) as socket:
            await socket.send(
                json.dumps(
                    {"type": "connection_init", "payload": {"Authorization": f"Bearer {bob}"}}
                )
            )
            assert json.loads(await socket.recv())["type"] == "connection_ack"
            await socket.send(
                json.dumps(
                    {
                        "id": "1",
                        "type": "start",
                        "payload": {"query": EVENTS, "variables": {"room": "general"}},
                    }
                )
            )
            await asyncio.sleep(0.2)
            sent = await send(url, alice, "old protocol, same room")
            while (message := json.loads(await asyncio.wait_for(socket.recv(), 2)))["type"] == "ka":
                pass
        assert message["type"] == "data", message
        assert message["payload"]["data"]["chatEvents"]["message"]["id"] == sent["id"]
