"""graphql-transport-ws rules the server enforces, with a raw WebSocket client."""

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from tests.support.server import cli_env, run_cli, running_server
from tests.support.users import sign_up_over_http

PROTOCOL = ["graphql-transport-ws"]
CREATE_ROOM = 'mutation { createChatRoom(input: {name: "general"}) { chatRoom { id } } }'
TYPING = 'mutation { setTyping(input: {room: "general", typing: true}) { ok } }'
SEND_HI = 'mutation { sendMessage(input: {room: "general", text: "hi"}) { message { id } } }'


@pytest.fixture
def server(tmp_path: Path):  # type: ignore[no-untyped-def]
    env = cli_env(
        tmp_path,
        GRAPHQL_API_WS_INIT_TIMEOUT_SECONDS="1",
        GRAPHQL_API_WS_MAX_SUBSCRIPTIONS="2",
        GRAPHQL_API_WS_MAX_MESSAGE_BYTES="4096",
        GRAPHQL_API_CORS_ORIGINS="https://app.example",
    )
    assert run_cli("migrate", env=env, cwd=tmp_path).returncode == 0
    with running_server(env, tmp_path) as url:
        yield url


def ws_url(url: str) -> str:
    return url.replace("http", "ws") + "/graphql"


async def closed_with(socket: websockets.ClientConnection) -> int | None:
    """The close code the server ends the connection with (messages before it skipped)."""
    with pytest.raises(websockets.ConnectionClosed):
        async with asyncio.timeout(5):
            while True:
                await socket.recv()
    return socket.close_code


async def test_a_bad_token_is_refused_with_4403(server: str) -> None:
    async with websockets.connect(ws_url(server), subprotocols=PROTOCOL) as socket:
        await socket.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": "Bearer forged"}})
        )
        assert await closed_with(socket) == 4403


async def test_a_good_token_is_acknowledged_in_a_text_frame(server: str) -> None:
    token = await sign_up_over_http(server, "alice")
    async with websockets.connect(ws_url(server), subprotocols=PROTOCOL) as socket:
        await socket.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        )
        ack = await socket.recv()
        assert isinstance(ack, str)  # the protocol allows no binary frames
        assert json.loads(ack)["type"] == "connection_ack"


async def test_no_connection_init_in_time_closes_with_4408(server: str) -> None:
    async with websockets.connect(ws_url(server), subprotocols=PROTOCOL) as socket:
        assert await closed_with(socket) == 4408


async def test_a_second_connection_init_closes_with_4429(server: str) -> None:
    async with websockets.connect(ws_url(server), subprotocols=PROTOCOL) as socket:
        await socket.send(json.dumps({"type": "connection_init"}))
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        await socket.send(json.dumps({"type": "connection_init"}))
        assert await closed_with(socket) == 4429


async def test_cross_origin_handshakes_are_refused_unless_allowed(server: str) -> None:
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(
            ws_url(server), subprotocols=PROTOCOL, origin="https://evil.example"
        )
    assert refused.value.response.status_code == 403
    async with websockets.connect(
        ws_url(server), subprotocols=PROTOCOL, origin="https://app.example"
    ) as socket:
        await socket.send(json.dumps({"type": "connection_init"}))
        assert json.loads(await socket.recv())["type"] == "connection_ack"


async def test_a_malformed_message_closes_with_4400(server: str) -> None:
    async with websockets.connect(ws_url(server), subprotocols=PROTOCOL) as socket:
        await socket.send(json.dumps({"type": "no-such-type"}))
        assert await closed_with(socket) == 4400


async def test_subscribing_before_the_ack_closes_with_4401(server: str) -> None:
    async with websockets.connect(ws_url(server), subprotocols=PROTOCOL) as socket:
        await socket.send(
            json.dumps({"id": "1", "type": "subscribe", "payload": {"query": "{ __typename }"}})
        )
        assert await closed_with(socket) == 4401


async def test_a_reused_subscription_id_closes_with_4409(server: str) -> None:
    token = await sign_up_over_http(server, "alice")
    subscribe = {
        "id": "same",
        "type": "subscribe",
        "payload": {"query": 'subscription { chatEvents(room: "general") { __typename } }'},
    }
    async with websockets.connect(ws_url(server), subprotocols=PROTOCOL) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": {"authToken": token}}))
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        async with httpx.AsyncClient(
            base_url=server, headers={"Authorization": f"Bearer {token}"}
        ) as client:
            await client.post("/graphql", json={"query": CREATE_ROOM})
        await socket.send(json.dumps(subscribe))
        async with asyncio.timeout(5):  # running: its first event (alice joined) came
            while json.loads(await socket.recv()) != {
                "id": "same",
                "type": "next",
                "payload": {"data": {"chatEvents": {"__typename": "UserJoined"}}},
            }:
                pass
        await socket.send(json.dumps(subscribe))
        assert await closed_with(socket) == 4409


async def test_an_oversized_message_closes_with_1009(server: str) -> None:
    async with websockets.connect(ws_url(server), subprotocols=PROTOCOL) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": {"x": "y" * 5000}}))
        assert await closed_with(socket) == 1009  # "message too big", before it is parsed


async def test_subscriptions_beyond_the_cap_are_refused_and_the_connection_goes_on(
    server: str,
) -> None:
    token = await sign_up_over_http(server, "alice")
    async with httpx.AsyncClient(
        base_url=server, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        await client.post("/graphql", json={"query": CREATE_ROOM})

        def subscribe(id: str) -> str:
            query = 'subscription { chatEvents(room: "general") { __typename } }'
            return json.dumps({"id": id, "type": "subscribe", "payload": {"query": query}})

        async with websockets.connect(ws_url(server), subprotocols=PROTOCOL) as socket:
            await socket.send(
                json.dumps({"type": "connection_init", "payload": {"authToken": token}})
            )
            assert json.loads(await socket.recv())["type"] == "connection_ack"
            await socket.send(subscribe("1"))
            await socket.send(subscribe("2"))
            await socket.send(subscribe("3"))  # the cap is 2
            while (refusal := json.loads(await socket.recv()))["id"] != "3":
                assert refusal["type"] == "next"  # the others' UserJoined
            assert refusal["type"] == "error"
            assert refusal["payload"][0]["message"] == "Subscription limit reached"

            await socket.send(json.dumps({"id": "1", "type": "complete"}))
            await socket.send(subscribe("4"))  # a freed place can be taken again
            typing: set[str] = set()
            async with asyncio.timeout(10):
                while typing != {"2", "4"}:  # both listen now
                    await client.post("/graphql", json={"query": TYPING})
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(0.3):
                            while True:
                                message = json.loads(await socket.recv())
                                if event_type(message) == "UserTyping":
                                    typing.add(message["id"])
            await client.post("/graphql", json={"query": SEND_HI})
            delivered: list[str] = []
            async with asyncio.timeout(5):
                while len(delivered) < 2:
                    message = json.loads(await socket.recv())
                    if event_type(message) == "MessageSent":
                        delivered.append(message["id"])
            assert sorted(delivered) == ["2", "4"]


def event_type(message: dict[str, Any]) -> str:
    return message["payload"]["data"]["chatEvents"]["__typename"]  # type: ignore[no-any-return]


async def test_a_query_over_the_legacy_protocol_is_the_clients_mistake(
    server: str, tmp_path: Path
) -> None:
    """graphql-ws (the legacy protocol) runs subscriptions only: a query there is refused
    with a message that says so, and the server logs no error for it."""
    async with websockets.connect(ws_url(server), subprotocols=["graphql-ws"]) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        start = {"id": "1", "type": "start", "payload": {"query": "query { me { id } }"}}
        await socket.send(json.dumps(start))
        async with asyncio.timeout(5):
            while (answer := json.loads(await socket.recv()))["type"] == "ka":
                pass
    assert answer["type"] == "error", answer
    assert "Internal server error" not in json.dumps(answer)
    log = await asyncio.to_thread(lambda: next(tmp_path.glob("server-*.log")).read_text())
    assert "unexpected error" not in log and "Traceback" not in log, log[-3000:]


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
@pytest.mark.parametrize(
    "variables",
    [
        {"n": 10**25},  # no Int, and more than 64 bits to encode
        {"n": 1, "x": json.loads("[" * 300 + "]" * 300)},  # deeper than orjson writes
    ],
)
async def test_variables_that_cannot_be_encoded_still_get_an_answer(
    server: str, protocol: str, variables: dict[str, Any]
) -> None:
    token = await sign_up_over_http(server, "alice")
    start = "subscribe" if protocol == "graphql-transport-ws" else "start"
    query = 'subscription($n: Int) { shortUrlVisits(code: "none") { id } }'

    async def answer(socket: websockets.ClientConnection) -> dict[str, Any]:
        async with asyncio.timeout(5):
            while (message := json.loads(await socket.recv()))["type"] in ("ka", "ping"):
                pass
        return message  # type: ignore[no-any-return]

    async with websockets.connect(ws_url(server), subprotocols=[protocol]) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": {"authToken": token}}))
        assert (await answer(socket))["type"] == "connection_ack"
        payload = {"query": query, "variables": variables}
        await socket.send(json.dumps({"id": "x", "type": start, "payload": payload}))
        first = await answer(socket)
        assert first["id"] == "x" and first["type"] in ("next", "data", "error"), first
        # The operation ended: its id is free again, and the socket goes on.
        again = {"query": query, "variables": {"n": 1}}
        await socket.send(json.dumps({"id": "x", "type": start, "payload": again}))
        while (message := await answer(socket))["type"] == "complete":
            pass
        assert message["id"] == "x" and message["type"] in ("next", "data", "error"), message
