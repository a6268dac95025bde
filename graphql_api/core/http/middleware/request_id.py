"""ASGI middleware: a request id and the processing time on every response."""

import os
import re
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from graphql_api.core.logs import current_request_id

_CLIENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class RequestIdMiddleware:
    """Adopt a sane `X-Request-ID` from the client or make one; echo it with `X-Process-Time`.

    Plain ASGI rather than BaseHTTPMiddleware: it adds no task or body copy per request.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = next((v for k, v in scope["headers"] if k == b"x-request-id"), b"").decode(
            "latin-1"
        )
        request_id = incoming if _CLIENT_ID.fullmatch(incoming) else os.urandom(16).hex()
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                elapsed = f"{time.perf_counter() - started:.6f}"
                message["headers"] = [
                    *message.get("headers", ()),
                    (b"x-request-id", request_id.encode()),
                    (b"x-process-time", elapsed.encode()),
                ]
            await send(message)

        token = current_request_id.set(request_id)
        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            current_request_id.reset(token)
