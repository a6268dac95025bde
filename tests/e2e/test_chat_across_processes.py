"""Two server processes sharing PostgreSQL and Redis: every subscriber hears everything."""

import asyncio
from pathlib import Path

from tests.support.chat import CREATE_ROOM, ChatSocket, joined, left, online, send
from tests.support.client import gql
from tests.support.server import running_server, workers_env
from tests.support.users import sign_up_over_http

PER_SENDER = 100
PROTOCOL = "graphql-transport-ws"


async def messages_until(socket: ChatSocket, last: str) -> list[str]:
    """The texts of the messages a subscriber hears, up to and including `last`."""
    texts: list[str] = []
    while not texts or texts[-1] != last:
        event = await socket.receive()
        if event["__typename"] == "MessageSent":
            texts.append(event["message"]["text"])
    return texts


async def test_subscribers_on_both_processes_hear_every_message_once_in_order(
    tmp_path: Path, postgres_server_url: str
) -> None:
    env = await workers_env(tmp_path, postgres_server_url)
    with running_server(env, tmp_path) as a, running_server(env, tmp_path) as b:
        alice, bob = await sign_up_over_http(a, "alice"), await sign_up_over_http(b, "bob")
        await gql(a, alice, CREATE_ROOM)
        names = [f"listener{n}" for n in range(6)]
        sockets: list[ChatSocket] = []
        for n, name in enumerate(names):
            server = a if n < 3 else b
            socket = await ChatSocket.connect(
                server, await sign_up_over_http(server, name), PROTOCOL
            )
            await socket.subscribe()
            sockets.append(socket)
            # Its own arrival, through Redis: this one is subscribed.
            while await socket.receive() != joined(name):
                pass
        assert await online(a, alice) == await online(b, bob) == names

        for n in range(PER_SENDER):  # alternately through A and B
            await send(a, alice, f"alice {n}")
            await send(b, bob, f"bob {n}")
        await send(a, alice, "the end")
        heard = await asyncio.gather(*(messages_until(s, "the end") for s in sockets))
        for texts in heard:
            assert len(texts) == 2 * PER_SENDER + 1  # nothing lost, nothing twice
            assert [t for t in texts if t.startswith("alice")] == [
                f"alice {n}" for n in range(PER_SENDER)
            ]
            assert [t for t in texts if t.startswith("bob")] == [
                f"bob {n}" for n in range(PER_SENDER)
            ]

        # A connection to B drops: a listener on A hears that its user left.
        sockets[5].drop()
        while (event := await sockets[0].receive())["__typename"] != "UserLeft":
            pass
        assert event == left("listener5")
        assert await online(a, alice) == names[:5]
        for socket in sockets[:5]:
            await socket.close()
