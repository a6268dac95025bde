"""Clients that vanish mid-stream against a live server, on both subprotocols: a client
going away is not a server fault and logs no error, while a real fault in a subscription
still logs one, with its traceback.

The drops land while the server is sending: a busy room, five operations on each socket
(those still running when it goes send to it too), subscribers with small buffers that
leave one after another, some after they stopped reading a while, each with a TCP reset.
"""

import asyncio
import json
import socket
import sqlite3
import struct
from contextlib import suppress
from pathlib import Path

import websockets

from tests.support.chat import CREATE_ROOM, RESULT, ChatSocket, online, send
from tests.support.client import gql
from tests.support.server import cli_env, run_cli, running_server
from tests.support.users import sign_up_over_http
from tests.support.wait import eventually

PROTOCOLS = ["graphql-transport-ws", "graphql-ws"]
SOCKETS = 30  # half on each subprotocol
OPERATIONS = 5  # per socket: those still running when it goes send to it too
# A message each handler answers itself (the legacy protocol acknowledges a repeated init).
ANSWERED = {
    "graphql-transport-ws": {"type": "ping"},
    "graphql-ws": {"type": "connection_init", "payload": {}},
}
TEXT = "x" * 1990  # about the longest message: the buffers fill the sooner


async def connect(url: str, token: str, protocol: str) -> ChatSocket:
    """A subscriber with small buffers, which a busy room fills quickly."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connecting: the window
    sock.connect((host, int(port)))
    sock.setblocking(False)
    chat = ChatSocket(
        await websockets.connect(
            url.replace("http", "ws") + "/graphql", subprotocols=[protocol], sock=sock, max_queue=1
        ),
        protocol,
    )
    await chat.socket.send(json.dumps({"type": "connection_init", "payload": {"authToken": token}}))
    assert json.loads(await chat.socket.recv())["type"] == "connection_ack"
    return chat


def reset(chat: ChatSocket) -> None:
    """Drop the connection with a TCP reset, as a crashed client or a cut network does."""
    sock = chat.socket.transport.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    chat.socket.transport.abort()


async def all_listen(url: str, token: str, chats: list[ChatSocket]) -> None:
    """Return once every operation on every socket has heard a message."""
    waiting = {(chat, str(n)) for chat in chats for n in range(OPERATIONS)}
    async with asyncio.timeout(10):
        while waiting:
            await send(url, token, "hello")
            for chat in chats:
                with suppress(TimeoutError):
                    async with asyncio.timeout(0.2):
                        while any(c is chat for c, _ in waiting):
                            message = json.loads(await chat.socket.recv())
                            waiting.discard((chat, message.get("id")))


async def log_of(tmp_path: Path) -> str:
    return await asyncio.to_thread(lambda: next(tmp_path.glob("server-*.log")).read_text())


def serve(tmp_path: Path) -> dict[str, str]:
    env = cli_env(tmp_path, GRAPHQL_API_WS_MAX_CONNECTIONS_PER_ADDRESS=str(SOCKETS + 1))
    assert run_cli("migrate", env=env, cwd=tmp_path).returncode == 0
    return env


async def test_subscribers_that_drop_mid_stream_log_no_error(tmp_path: Path) -> None:
    with running_server(serve(tmp_path), tmp_path) as url:
        token = await sign_up_over_http(url, "alice")
        await gql(url, token, CREATE_ROOM)
        chats = [await connect(url, token, PROTOCOLS[n % 2]) for n in range(SOCKETS)]
        for chat in chats:
            for n in range(OPERATIONS):
                await chat.subscribe(id=str(n))
        await all_listen(url, token, chats)

        async def busy_room() -> None:
            n = 0
            while True:
                await asyncio.gather(*(send(url, token, f"{n + i} {TEXT}") for i in range(10)))
                n += 10

        async def leave(chat: ChatSocket, after: int) -> None:
            for _ in range(after):
                await chat.receive()
            if after % 2:
                # It stops reading a while: its buffers fill and the server waits to send.
                await chat.socket.send(json.dumps(ANSWERED[chat.protocol]))
                await asyncio.sleep(0.2)  # a duration, not a wait: the client not reading
            reset(chat)

        sender = asyncio.create_task(busy_room())
        try:
            await asyncio.gather(*(leave(chat, n * 3) for n, chat in enumerate(chats)))
            await eventually(  # every subscription has ended
                lambda: online(url, token), lambda users: users == [], what="no one online"
            )
        finally:
            sender.cancel()
            with suppress(asyncio.CancelledError):
                await sender
    log = await log_of(tmp_path)  # the server has stopped: everything it had to say is here
    assert " ERROR " not in log and "Traceback" not in log, log[-5000:]


async def test_a_real_fault_in_a_subscription_still_logs_an_error(tmp_path: Path) -> None:
    with running_server(serve(tmp_path), tmp_path) as url:
        token = await sign_up_over_http(url, "alice")
        await gql(url, token, CREATE_ROOM)
        after = (await send(url, token, "hello"))["id"]
        # The database loses the messages' table under the server's feet.
        with sqlite3.connect(tmp_path / "cli.db") as database:
            database.execute("ALTER TABLE chat_messages RENAME TO lost")
        for protocol in PROTOCOLS:
            async with await ChatSocket.connect(url, token, protocol) as chat:
                await chat.subscribe(after=after)
                answer = await failed(chat.socket, protocol)
            assert "Internal server error" in json.dumps(answer), answer
    log = await log_of(tmp_path)
    faults = [line for line in log.splitlines() if " ERROR " in line]
    assert len(faults) == len(PROTOCOLS), log[-5000:]
    assert all("unexpected error" in line for line in faults), faults
    assert log.count("Traceback (most recent call last)") >= len(PROTOCOLS)
    assert "no such table: chat_messages" in log


async def failed(socket: websockets.ClientConnection, protocol: str) -> object:
    """The operation's error, however the protocol tells it."""
    async with asyncio.timeout(5):
        while True:
            message = json.loads(await socket.recv())
            if message["type"] in (RESULT[protocol], "error"):
                return message["payload"]
