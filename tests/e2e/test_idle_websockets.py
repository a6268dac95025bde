"""Idle WebSockets against a live server, on both subprotocols: a socket that never sends
`connection_init` times out, an anonymous one that runs nothing is closed once idle, and one
client address may hold only so many open.

Each test connects from a loopback address of its own (127.0.0.N), so that what one test
leaves open never counts against another's cap.
"""

import asyncio
import json
import time
from collections.abc import AsyncIterator

import pytest
import websockets

from tests.support.chat import CREATE_ROOM, EVENTS, RESULT, START, send
from tests.support.client import gql
from tests.support.databases import BACKENDS, server_database
from tests.support.server import cli_env, run_cli, running_server
from tests.support.users import sign_up_over_http
from tests.support.wait import eventually

PROTOCOLS = ["graphql-transport-ws", "graphql-ws"]
INIT_TIMEOUT = 1.0
IDLE = 1.0
CAP = 3
MARGIN = 1.5  # what a loaded test machine may add to a timer


@pytest.fixture(scope="module", params=BACKENDS)
async def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    tmp_path = tmp_path_factory.mktemp(request.param)
    async with server_database(request.param, tmp_path) as database_url:
        env = cli_env(
            tmp_path,
            DATABASE_URL=database_url,
            GRAPHQL_API_WS_INIT_TIMEOUT_SECONDS=str(INIT_TIMEOUT),
            GRAPHQL_API_WS_IDLE_ANONYMOUS_SECONDS=str(IDLE),
            GRAPHQL_API_WS_MAX_CONNECTIONS_PER_ADDRESS=str(CAP),
        )
        assert run_cli("migrate", env=env, cwd=tmp_path).returncode == 0
        with running_server(env, tmp_path) as url:
            yield url
        log = next(tmp_path.glob("server-*.log")).read_text()
        assert "Traceback" not in log, log[-5000:]


@pytest.fixture(scope="module")
async def token(server: str) -> str:
    token = await sign_up_over_http(server, "alice")
    await gql(server, token, CREATE_ROOM)
    return token


def connect(url: str, protocol: str, address: str) -> websockets.connect:
    """A WebSocket to `url`'s /graphql from the loopback address `address`."""
    return websockets.connect(
        url.replace("http", "ws") + "/graphql",
        subprotocols=[protocol],
        local_addr=(address, 0),
    )


async def init(socket: websockets.ClientConnection, token: str | None = None) -> None:
    payload = {"authToken": token} if token else {}
    await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
    assert json.loads(await socket.recv())["type"] == "connection_ack"


async def closed_after(socket: websockets.ClientConnection, within: float) -> tuple[int, float]:
    """The close code the server ends the connection with, and the seconds it took."""
    started = time.monotonic()
    with pytest.raises(websockets.ConnectionClosed):
        async with asyncio.timeout(within):
            while True:
                await socket.recv()
    assert socket.close_code is not None
    return socket.close_code, time.monotonic() - started


async def answers(socket: websockets.ClientConnection, protocol: str) -> bool:
    """Whether the connection still runs an operation and answers it.

    A subscription that fails at once, as the legacy protocol runs nothing else.
    """
    payload = {"query": 'subscription { shortUrlVisits(code: "none") { id } }'}
    await socket.send(json.dumps({"id": "q", "type": START[protocol], "payload": payload}))
    async with asyncio.timeout(5):
        while (message := json.loads(await socket.recv())).get("id") != "q":
            pass
    return message["type"] in (RESULT[protocol], "error")  # type: ignore[no-any-return]


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_socket_that_never_inits_is_closed_with_4408(server: str, protocol: str) -> None:
    async with connect(server, protocol, "127.0.0.2") as socket:
        if protocol == "graphql-transport-ws":
            await socket.send(json.dumps({"type": "ping"}))  # talking is not initialising
        code, seconds = await closed_after(socket, INIT_TIMEOUT + MARGIN)
    assert code == 4408
    assert seconds > INIT_TIMEOUT - 0.2


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_an_anonymous_socket_that_runs_nothing_is_closed_once_idle(
    server: str, protocol: str
) -> None:
    async with connect(server, protocol, "127.0.0.3") as socket:
        await init(socket)
        assert await answers(socket, protocol)  # what ran before counts, not after it ended
        code, seconds = await closed_after(socket, IDLE + MARGIN)
    assert code == 1000
    assert socket.close_reason == "Idle: an anonymous connection with no operation running"
    assert seconds > IDLE - 0.2


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_signed_in_socket_stays_and_keeps_its_subscription(
    server: str, token: str, protocol: str
) -> None:
    async with connect(server, protocol, "127.0.0.4") as socket:
        await init(socket, token)
        payload = {"query": EVENTS, "variables": {"room": "general"}}
        await socket.send(json.dumps({"id": "1", "type": START[protocol], "payload": payload}))
        # A duration, not a wait: idle past the time an anonymous socket would be closed.
        await asyncio.sleep(IDLE + MARGIN)
        await send(server, token, "still here")
        async with asyncio.timeout(5):
            while True:
                message = json.loads(await socket.recv())
                if message["type"] == RESULT[protocol] and message["id"] == "1":
                    event = message["payload"]["data"]["chatEvents"]
                    if event["__typename"] == "MessageSent":
                        break
        assert event["message"]["text"] == "still here"
        assert await answers(socket, protocol)  # and the connection takes new operations


async def test_sockets_beyond_the_cap_from_one_address_are_refused_with_4429(
    server: str, token: str
) -> None:
    sockets = [await connect(server, PROTOCOLS[n % 2], "127.0.0.5") for n in range(CAP)]
    try:
        for socket in sockets:
            await init(socket, token)
        async with connect(server, PROTOCOLS[0], "127.0.0.5") as refused:
            code, _ = await closed_after(refused, 5)
        assert code == 4429
        assert refused.close_reason == "Too many connections from this address"
        for n, socket in enumerate(sockets):  # those already open are untouched
            assert await answers(socket, PROTOCOLS[n % 2])
        async with connect(server, PROTOCOLS[0], "127.0.0.6") as elsewhere:
            await init(elsewhere, token)  # another address has its own count

        await sockets.pop().close()

        async def admitted() -> bool:
            async with connect(server, PROTOCOLS[1], "127.0.0.5") as again:
                try:
                    await init(again, token)
                except websockets.ConnectionClosed:
                    return False
                return True

        # The server frees the place once it sees the close.
        await eventually(admitted, within=5, interval=0.05, what="a place freed")
    finally:
        for socket in sockets:
            await socket.close()
