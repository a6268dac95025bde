"""The npm graphql-ws client hears, over chatEvents, a message sent with Python's gql."""

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from gql import Client, GraphQLRequest
from gql.client import AsyncClientSession
from gql.transport.httpx import HTTPXAsyncTransport

from tests.support.node import node_script
from tests.support.server import cli_env, run_cli, running_server
from tests.support.users import sign_up_over_http

SUBSCRIBED_WITHIN = 15.0

CREATE_ROOM = GraphQLRequest(
    'mutation { createChatRoom(input: {name: "general"}) { chatRoom { id } } }'
)
TYPING = GraphQLRequest('mutation { setTyping(input: {room: "general", typing: true}) { ok } }')
SEND = """mutation($input: SendMessageInput!) {
  sendMessage(input: $input) { message { id } userErrors { code message } } }"""


@pytest.fixture(scope="session")
def node_client() -> list[str]:
    """The command that runs subscribe.mjs (the graphql-ws client)."""
    return node_script("subscribe.mjs")


@asynccontextmanager
async def gql_session(url: str, token: str) -> AsyncIterator[AsyncClientSession]:
    """A gql session against the server's /graphql, signed in with `token`."""
    transport = HTTPXAsyncTransport(
        url=f"{url}/graphql", headers={"Authorization": f"Bearer {token}"}
    )
    async with Client(transport=transport) as session:
        yield session


class NodeSubscriber:
    """subscribe.mjs as a subprocess, the events it prints parsed into a queue."""

    def __init__(self, command: list[str], stderr_path: Path) -> None:
        self.command = command
        self.stderr_path = stderr_path
        self.events: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.lines: list[str] = []

    async def start(self, ws_url: str, token: str, room: str) -> None:
        with self.stderr_path.open("wb") as stderr:
            self.process = await asyncio.create_subprocess_exec(
                *self.command, ws_url, token, room, stdout=asyncio.subprocess.PIPE, stderr=stderr
            )
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.process.stdout is not None
        try:
            async for line in self.process.stdout:
                self.lines.append(line.decode())
                self.events.put_nowait(json.loads(line))
        finally:
            self.events.put_nowait(None)

    def report(self) -> str:
        """What the node client did so far, for assertion messages."""
        return (
            f"node exit code: {self.process.returncode}\n"
            f"stdout:\n{''.join(self.lines)}stderr:\n{self.stderr_path.read_text()}"
        )

    async def next_event(self, seconds: float) -> dict[str, Any]:
        """The next event printed; TimeoutError after `seconds`."""
        event = await asyncio.wait_for(self.events.get(), seconds)
        assert event is not None, f"the node client stopped early\n{self.report()}"
        return event

    async def next_message_sent(self, seconds: float) -> dict[str, Any]:
        """The next MessageSent event; other events are passed over."""
        try:
            while (event := await self.next_event(seconds))["__typename"] != "MessageSent":
                pass
        except TimeoutError:
            pytest.fail(f"the node client heard no MessageSent in {seconds} s\n{self.report()}")
        return event

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        await self.reader


async def wait_until_subscribed(session: AsyncClientSession, node: NodeSubscriber) -> None:
    """Send typing notices until the node client hears one: then it is subscribed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SUBSCRIBED_WITHIN
    while loop.time() < deadline:
        assert (await session.execute(TYPING))["setTyping"]["ok"] is True
        try:
            event = await node.next_event(0.2)
        except TimeoutError:
            continue
        if event["__typename"] == "UserTyping":
            assert event == {
                "__typename": "UserTyping",
                "typing": True,
                "user": {"username": "alice"},
            }, node.report()
            return
    pytest.fail(f"the node client heard no UserTyping in {SUBSCRIBED_WITHIN} s\n{node.report()}")


async def test_graphql_ws_client_hears_a_message_sent_with_gql(
    tmp_path: Path, node_client: list[str]
) -> None:
    env = cli_env(tmp_path)
    assert run_cli("migrate", env=env, cwd=tmp_path).returncode == 0
    with running_server(env, tmp_path) as url:
        alice, bob = await sign_up_over_http(url, "alice"), await sign_up_over_http(url, "bob")
        node = NodeSubscriber(node_client, tmp_path / "node-stderr.log")
        async with gql_session(url, alice) as session:
            assert (await session.execute(CREATE_ROOM))["createChatRoom"]["chatRoom"]
            await node.start(url.replace("http", "ws", 1) + "/graphql", bob, "general")
            try:
                await wait_until_subscribed(session, node)
                text = "hello from gql to graphql-ws"
                send = GraphQLRequest(
                    SEND, variable_values={"input": {"room": "general", "text": text}}
                )
                payload = (await session.execute(send))["sendMessage"]
                assert payload["userErrors"] == [], payload
                assert await node.next_message_sent(10) == {
                    "__typename": "MessageSent",
                    "message": {
                        "id": payload["message"]["id"],
                        "text": text,
                        "author": {"username": "alice"},
                    },
                }, node.report()
                assert await asyncio.wait_for(node.process.wait(), 10) == 0, node.report()
            finally:
                await node.stop()
