"""Chat against a live server: a client over a real WebSocket, speaking either
subprotocol, and the operations over HTTP."""

import asyncio
import json
from typing import Any

import websockets

from tests.support.client import gql
from tests.support.users import SignedIn

EVENTS = """subscription($room: String!, $after: ID) { chatEvents(room: $room, after: $after) {
  __typename
  ... on MessageSent { message { id text author { username } } }
  ... on UserTyping { typing user { username } }
  ... on UserJoined { user { username } }
  ... on UserLeft { user { username } } } }"""
CREATE_ROOM = 'mutation { createChatRoom(input: {name: "general"}) { chatRoom { id } } }'
TYPING = 'mutation { setTyping(input: {room: "general", typing: true}) { ok } }'
SEND = """mutation($input: SendMessageInput!) {
  sendMessage(input: $input) { message { id } userErrors { code } } }"""
ONLINE = 'query { chatRoom(name: "general") { onlineUsers { username } } }'
# What each subprotocol calls starting an operation and its results.
START = {"graphql-transport-ws": "subscribe", "graphql-ws": "start"}
RESULT = {"graphql-transport-ws": "next", "graphql-ws": "data"}
KEEP_ALIVE = {"ka", "ping", "pong"}
TIMEOUT = 5.0


async def send(url: str, token: str, text: str, room: str = "general") -> dict[str, Any]:
    """Send a message; the message as stored ({"id": ...})."""
    payload = await gql(url, token, SEND, {"input": {"room": room, "text": text}})
    assert payload["userErrors"] == [], payload
    return payload["message"]  # type: ignore[no-any-return]


async def online(url: str, token: str) -> list[str]:
    return [user["username"] for user in (await gql(url, token, ONLINE))["onlineUsers"]]


class ChatSocket:
    """One WebSocket connection with chatEvents subscriptions on it."""

    def __init__(self, socket: websockets.ClientConnection, protocol: str) -> None:
        self.socket = socket
        self.protocol = protocol

    @classmethod
    async def connect(cls, url: str, token: str, protocol: str) -> "ChatSocket":
        socket = await websockets.connect(
            url.replace("http", "ws") + "/graphql", subprotocols=[protocol]
        )
        await socket.send(json.dumps({"type": "connection_init", "payload": {"authToken": token}}))
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        return cls(socket, protocol)

    async def subscribe(
        self, room: str = "general", after: str | None = None, id: str = "1", query: str = EVENTS
    ) -> None:
        payload = {"query": query, "variables": {"room": room, "after": after}}
        await self.socket.send(
            json.dumps({"id": id, "type": START[self.protocol], "payload": payload})
        )

    async def receive(self) -> dict[str, Any]:
        """The next chat event (keep-alives skipped)."""
        while True:
            message = json.loads(await asyncio.wait_for(self.socket.recv(), TIMEOUT))
            if message["type"] not in KEEP_ALIVE:
                break
        assert message["type"] == RESULT[self.protocol], message
        return message["payload"]["data"]["chatEvents"]  # type: ignore[no-any-return]

    async def close(self) -> None:
        await self.socket.close()

    def drop(self) -> None:
        """Cut the connection without a closing handshake, as a lost network does."""
        self.socket.transport.abort()

    async def __aenter__(self) -> "ChatSocket":
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()


def joined(username: str) -> dict[str, Any]:
    return {"__typename": "UserJoined", "user": {"username": username}}


def left(username: str) -> dict[str, Any]:
    return {"__typename": "UserLeft", "user": {"username": username}}


def sent(message: dict[str, Any], text: str, author: str) -> dict[str, Any]:
    return {
        "__typename": "MessageSent",
        "message": {"id": message["id"], "text": text, "author": {"username": author}},
    }


# In process: a SignedIn's client of the session app.
NEW_ROOM = """mutation($input: CreateChatRoomInput!) {
  createChatRoom(input: $input) { chatRoom { id name title } userErrors { field code message } }
}"""
NEW_MESSAGE = """mutation($input: SendMessageInput!) {
  sendMessage(input: $input) {
    message { id text sentAt author { username } room { name } }
    userErrors { field code message }
  }
}"""


async def create_room(owner: SignedIn, name: str, title: str | None = None) -> dict:  # type: ignore[type-arg]
    return (await owner.client.mutate(NEW_ROOM, {"name": name, "title": title}))["chatRoom"]  # type: ignore[no-any-return]
