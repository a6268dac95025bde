"""The baseline: a bare Starlette app that broadcasts every posted message to a room's WebSockets.

Subscribers open a plain WebSocket at /graphql (no protocol, no authentication), in the room
its query string names (`?room=NAME`; none: the room ""). A POST to /graphql with a
sendMessage-shaped body (`variables.input.text`, `variables.input.room`) sends every socket
of that room the very text frame graphql_api sends for such a message: its
graphql-transport-ws `next` message, encoded once. Any other POST (setTyping) broadcasts a
UserTyping frame to the room.

With `&selection=private&viewer=USERNAME` in its query string, a socket stands for a
subscription that also selects the author's username and email (visible to the author
only): the POST's X-Author header ("username email") names the author, and the socket is
sent the frame its viewer would get, one of two encoded once per message: the author's own
view (the email) or everyone else's (null).
"""

import base64
import itertools
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

OPERATION_ID = "1"  # the subscribe message's id, which graphql_api echoes in every frame


def next_frame(event: dict[str, Any]) -> str:
    """A chatEvents result as graphql_api sends it (orjson, the same key order)."""
    return orjson.dumps(
        {"id": OPERATION_ID, "type": "next", "payload": {"data": {"chatEvents": event}}}
    ).decode()


def message_frame(message_id: str, text: str) -> str:
    """The frame for `__typename ... on MessageSent { message { id text } }`."""
    return next_frame({"__typename": "MessageSent", "message": {"id": message_id, "text": text}})


def private_frame(message_id: str, text: str, username: str, email: str | None) -> str:
    """The frame for `__typename ... on MessageSent { message { id text author { username
    email } } }`, as a viewer sees it: `email` only for the author themself, else None."""
    author = {"username": username, "email": email}
    return next_frame(
        {"__typename": "MessageSent", "message": {"id": message_id, "text": text, "author": author}}
    )


def message_global_id(pk: int) -> str:
    """A ChatMessage's Relay ID, as graphql_api makes it."""
    return base64.urlsafe_b64encode(f"ChatMessage:{pk}".encode()).rstrip(b"=").decode()


TYPING_FRAME = next_frame({"__typename": "UserTyping"})
PLAIN, OWN, OTHERS = "plain", "own", "others"  # which frame a socket is sent
rooms: dict[str, dict[WebSocket, tuple[str, str]]] = {}  # socket: (selection, viewer)
message_ids = itertools.count(1)


async def subscriber(websocket: WebSocket) -> None:
    await websocket.accept()
    query = websocket.query_params
    sockets = rooms.setdefault(query.get("room", ""), {})
    sockets[websocket] = (query.get("selection", PLAIN), query.get("viewer", ""))
    try:
        while (await websocket.receive())["type"] != "websocket.disconnect":
            pass
    finally:
        sockets.pop(websocket, None)


async def post(request: Request) -> Response:
    fields = orjson.loads(await request.body())["variables"]["input"]
    answer: dict[str, Any]
    author, _, email = request.headers.get("x-author", "").partition(" ")
    if "text" in fields:
        message_id = message_global_id(next(message_ids))
        text = fields["text"]
        frames = {PLAIN: message_frame(message_id, text)}
        if author:  # the private selection's senders say who they are
            frames[OWN] = private_frame(message_id, text, author, email)
            frames[OTHERS] = private_frame(message_id, text, author, None)
        answer = {"sendMessage": {"message": {"id": message_id}, "userErrors": []}}
    else:
        frames = dict.fromkeys((PLAIN, OWN, OTHERS), TYPING_FRAME)
        answer = {"setTyping": {"ok": True, "userErrors": []}}
    sockets = rooms.get(fields.get("room", ""), {})
    for websocket, (selection, viewer) in list(sockets.items()):
        if selection == PLAIN:
            frame = frames[PLAIN]
        else:
            frame = frames[OWN] if viewer == author else frames[OTHERS]
        try:
            await websocket.send_text(frame)
        except (OSError, RuntimeError, WebSocketDisconnect):
            sockets.pop(websocket, None)  # gone; its receive loop cleans up too
    return Response(orjson.dumps({"data": answer}), media_type="application/json")


async def livez(request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


app = Starlette(
    routes=[
        WebSocketRoute("/graphql", subscriber),
        Route("/graphql", post, methods=["POST"]),
        Route("/livez", livez),
    ]
)
