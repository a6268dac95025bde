"""A cap on request bodies, enforced before the application has read them.

A declared `Content-Length` over the cap is answered with 413 before the application
runs at all; a chunked body (no length given) is counted as it streams in, and the
413 goes out as soon as the count passes the cap, so no more than the cap and one chunk
is ever buffered. Multipart uploads get a cap of their own: they carry files.
"""

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Methods whose body nothing in this server reads: they pass untouched (the redirect
# shim's hot path among them).
_BODYLESS_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class _BodyTooLarge(Exception):
    """Raised from `receive` into the application, caught again by the middleware."""


async def _answer_too_large(send: Send, limit: int) -> None:
    body = f"The request body is larger than the limit of {limit} bytes.".encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodySizeLimitMiddleware:
    """413 for a request body over `max_body_bytes` (`max_upload_bytes` for multipart)."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes

    def _limit_and_length(self, scope: Scope) -> tuple[int, int | None]:
        limit, declared = self.max_body_bytes, None
        for name, value in scope["headers"]:
            if name == b"content-type" and value[:19].lower() == b"multipart/form-data":
                limit = self.max_upload_bytes
            elif name == b"content-length" and value.isdigit():
                declared = int(value)
        return limit, declared

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in _BODYLESS_METHODS:
            await self.app(scope, receive, send)
            return
        limit, declared = self._limit_and_length(scope)
        if declared is not None and declared > limit:
            await _answer_too_large(send, limit)
            return

        received = 0
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge
            return message

        async def watching_send(message: Message) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except ClientDisconnect:
            return  # the client left before sending its whole body: nobody to answer
        except _BodyTooLarge:
            # Nothing here answers before reading the whole request, so no response has
            # begun; if one ever had, it could only be cut off, never replaced.
            if not response_started:
                await _answer_too_large(send, limit)
