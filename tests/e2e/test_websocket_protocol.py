"""graphql-transport-ws rules the server enforces, with a raw WebSocket client."""

import asyncio
import json
from pathlib import Path

import pytest
import websockets

from tests.cli_helpers import cli_env, run_cli, running_server, sign_up_over_http

PROTOCOL = ["graphql-transport-ws"]


@pytest.fixture
def server(tmp_path: Path):  # type: ignore[no-untyped-def]
    env = cli_env(
        tmp_path,
        GRAPHQL_API_WS_INIT_TIMEOUT_SECONDS="1",
        GRAPHQL_API_WS_MAX_SUBSCRIPTIONS="2",
        GRAPHQL_API_CORS_ORIGINS="https://app.example",
    )
    assert run_cli("migrate", env=env, cwd=tmp_path).returncode == 0
    with running_server(env, tmp_path) as url:
        yield url


def ws_url(url: str) -> str:
    return url.replace("http", "ws") + "/graphql"


async def closed_with(socket: websockets.ClientConnection) -> int | None:
    with pytest.raises(websockets.ConnectionClosed):
        await asyncio.wait_for(socket.recv(), timeout=5)
    return socket.close_code


async def test_a_bad_token_is_refused_with_4403(server: str) -> None:
    async with websockets.connect(ws_url(server), subprotocols=PROTOCOL) as socket:
        await socket.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": "Bearer forged"}})
        )
        assert await closed_with(socket) == 4403


async def test_a_good_token_is_acknowledged(server: str) -> None:
    token = await sign_up_over_http(server, "alice")
    async with websockets.connect(ws_url(server), subprotocols=PROTOCOL) as socket:
        await socket.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        )
        assert json.loads(await socket.recv())["type"] == "connection_ack"


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
