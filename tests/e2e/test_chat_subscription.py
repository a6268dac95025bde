"""A chat between two users over real WebSockets, on both subprotocols."""

import asyncio
import contextlib
from pathlib import Path

import pytest

from tests.support.chat import CREATE_ROOM, TYPING, ChatSocket, joined, left, online, send, sent
from tests.support.client import gql
from tests.support.server import cli_env, run_cli, running_server
from tests.support.users import sign_up_over_http

HISTORY = (
    'query { chatRoom(name: "general") { messages(last: 20) { edges { node { id text } } } } }'
)


@pytest.fixture
def server(tmp_path: Path):  # type: ignore[no-untyped-def]
    env = cli_env(tmp_path)
    assert run_cli("migrate", env=env, cwd=tmp_path).returncode == 0
    with running_server(env, tmp_path) as url:
        yield url


async def until_typing(url: str, token: str, socket: ChatSocket) -> None:
    """Wait until `socket` is subscribed: it receives the typing notices sent meanwhile."""
    async with asyncio.timeout(10):
        while True:
            await gql(url, token, TYPING)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.3):
                    if (await socket.receive())["__typename"] == "UserTyping":
                        return


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
async def test_two_users_chat_and_see_each_other_come_and_go(server: str, protocol: str) -> None:
    url = server
    alice, bob = await sign_up_over_http(url, "alice"), await sign_up_over_http(url, "bob")
    await gql(url, alice, CREATE_ROOM)
    hello = await send(url, alice, "hello")
    history = (await gql(url, bob, HISTORY))["messages"]["edges"]
    assert [edge["node"] for edge in history] == [{"id": hello["id"], "text": "hello"}]

    async with await ChatSocket.connect(url, bob, protocol) as bobs:
        await bobs.subscribe(after=history[-1]["node"]["id"])
        assert await bobs.receive() == joined("bob")  # his own arrival: subscribed now
        first_tab = await ChatSocket.connect(url, alice, protocol)
        await first_tab.subscribe()
        assert await first_tab.receive() == joined("alice")
        assert await bobs.receive() == joined("alice")

        # A second tab is the same person: no UserJoined, and she is online once.
        async with await ChatSocket.connect(url, alice, protocol) as second_tab:
            await second_tab.subscribe()
            await until_typing(url, alice, second_tab)
            assert await online(url, bob) == ["alice", "bob"]
            question = await send(url, alice, "are you there?")
            while (event := await bobs.receive())["__typename"] == "UserTyping":
                assert event["user"] == {"username": "alice"}
            assert event == sent(question, "are you there?", "alice")
            assert await second_tab.receive() != joined("alice")

        # Closing one tab is no leave: the next thing Bob sees is her next message.
        still = await send(url, alice, "still here")
        assert await bobs.receive() == sent(still, "still here", "alice")
        assert await online(url, bob) == ["alice", "bob"]
        # Her last connection drops without a goodbye: she leaves.
        first_tab.drop()
        assert await bobs.receive() == left("alice")
        assert await online(url, bob) == ["bob"]


async def test_a_returning_subscriber_gets_what_it_missed_once(server: str) -> None:
    url = server
    alice, bob = await sign_up_over_http(url, "alice"), await sign_up_over_http(url, "bob")
    await gql(url, alice, CREATE_ROOM)
    first = await send(url, alice, "hello")
    async with await ChatSocket.connect(url, bob, "graphql-transport-ws") as bobs:
        await bobs.subscribe()
        assert await bobs.receive() == joined("bob")
        second = await send(url, alice, "are you there?")
        assert await bobs.receive() == sent(second, "are you there?", "alice")
    # Bob was away: subscribing after the first message replays what he missed, once.
    third = await send(url, alice, "bob?")
    async with await ChatSocket.connect(url, bob, "graphql-transport-ws") as bobs:
        await bobs.subscribe(after=first["id"])
        replayed = [await bobs.receive() for _ in range(3)]
        assert replayed == [
            sent(second, "are you there?", "alice"),
            sent(third, "bob?", "alice"),
            joined("bob"),
        ]
        fourth = await send(url, alice, "welcome back")
        assert await bobs.receive() == sent(fourth, "welcome back", "alice")
