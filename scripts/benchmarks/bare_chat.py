"""The baseline: a bare Starlette app that broadcasts every posted message to every WebSocket.

Subscribers open a plain WebSocket at /graphql (no protocol, no authentication). A POST to
/graphql with a sendMessage-shaped body (`variables.input.text`) sends every socket the very
text frame graphql_api sends for such a message: its graphql-transport-ws `next` message,
encoded once. Any other POST (setTyping) broadcasts a UserTyping frame.
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


def message_global_id(pk: int) -> str:
    """A ChatMessage's Relay ID, as graphql_api makes it."""
    return base64.urlsafe_b64encode(f"ChatMessage:{pk}".encode()).rstrip(b"=").decode()


TYPING_FRAME = next_frame({"__typename": "UserTyping"})
sockets: set[WebSocket] = set()
message_ids = itertools.count(1)


async def subscriber(websocket: WebSocket) -> None:
    await websocket.accept()
    sockets.add(websocket)
    try:
        while (await websocket.receive())["type"] != "websocket.disconnect":
            pass
    finally:
        sockets.discard(websocket)


async def post(request: Request) -> Response:
    fields = orjson.loads(await request.body())["variables"]["input"]
    answer: dict[str, Any]
    if "text" in fields:
        message_id = message_global_id(next(message_ids))
        frame = message_frame(message_id, fields["text"])
        answer = {"sendMessage": {"message": {"id": message_id}, "userErrors": []}}
    else:
        frame = TYPING_FRAME
        answer = {"setTyping": {"ok": True, "userErrors": []}}
    for websocket in list(sockets):
        try:
            await websocket.send_text(frame)
        except (OSError, RuntimeError, WebSocketDisconnect):
            sockets.discard(websocket)  # gone; its receive loop cleans up too
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
