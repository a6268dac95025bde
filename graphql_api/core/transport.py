"""GraphQL over HTTP: strict JSON in, orjson out, and strings a database can store.

Every string that reaches a resolver has passed here: valid UTF-8 without lone
surrogates (orjson and the GraphQL parser refuse them) and without NUL characters,
which PostgreSQL cannot store and which no legitimate client sends.
"""

from collections.abc import AsyncIterator, Mapping
from typing import Any

import orjson
from cross_web import HTTPException
from graphql import GraphQLError, StringValueNode, ValidationRule
from starlette.requests import HTTPConnection, Request
from starlette.websockets import WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.exceptions import ConnectionRejectionError
from strawberry.extensions import AddValidationRules
from strawberry.fastapi import GraphQLRouter
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.types.unset import UNSET, UnsetType

from graphql_api.core.context import Context
from graphql_api.core.errors import Unauthenticated

NUL_MESSAGE = "Strings must not contain NUL characters."
# Apollo's names are accepted too, so its upload clients work unchanged.
PREFLIGHT_HEADERS = (
    "graphql-require-preflight",
    "apollo-require-preflight",
    "x-apollo-operation-name",
)


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


class TextWebSocketAdapter(ASGIWebSocketAdapter):
    """Sends every WebSocket message as a text frame, as both subprotocols require."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        try:
            await self.ws.send_text(self.view.encode_json_string(message))
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc


class GraphQLApiRouter(GraphQLRouter[Context, None]):
    websocket_adapter_class = TextWebSocketAdapter  # type: ignore[assignment]

    def parse_json(self, data: str | bytes) -> Any:
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise HTTPException(400, "Unable to parse request body as JSON") from None
        if not isinstance(value, dict | list):
            raise HTTPException(400, "The request must be a JSON object.")
        if _has_nul(value):
            raise HTTPException(400, NUL_MESSAGE)
        return value

    async def parse_multipart(self, request: Any) -> dict[str, str]:
        # A browser sends multipart forms cross-site without a preflight; a custom header
        # forces one, so no other site can make a signed-in user upload (CSRF).
        if not any(request.headers.get(h) for h in PREFLIGHT_HEADERS):
            raise HTTPException(
                400, "Multipart requests need a GraphQL-Require-Preflight header (CSRF protection)."
            )
        try:
            return await super().parse_multipart(request)
        except (TypeError, ValueError, IndexError, AttributeError) as exc:  # a malformed map
            raise HTTPException(400, "The multipart `map` does not fit `operations`.") from exc

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """Refuse a WebSocket whose connection_init carries a bad token (close code 4403)."""
        try:
            await context.viewer()
        except Unauthenticated as exc:
            raise ConnectionRejectionError({"message": exc.message}) from None
        return UNSET

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)


async def close_uploads(connection: HTTPConnection) -> AsyncIterator[None]:
    """Close the request's uploaded files once it is answered, whatever became of them."""
    yield
    if isinstance(connection, Request):
        await connection.close()


class StorableStrings(ValidationRule):
    """String literals in a document follow the same rule as strings in variables.

    (The parser itself already refuses escapes of lone surrogates.)
    """

    def enter_string_value(self, node: StringValueNode, *_: Any) -> None:
        if "\x00" in node.value:
            self.report_error(GraphQLError(NUL_MESSAGE, node))


class StorableStringsExtension(AddValidationRules):
    def __init__(self) -> None:
        super().__init__([StorableStrings])
