"""GraphQL over HTTP: strict JSON in, orjson out, and strings a database can store.

Every string that reaches a resolver has passed here: valid UTF-8 without lone
surrogates (orjson and the GraphQL parser refuse them) and without NUL characters,
which PostgreSQL cannot store and which no legitimate client sends.

It also keeps to the GraphQL-over-HTTP spec: `application/graphql-response+json` for
clients that ask for it (see `core.media_types`), 405 for a mutation sent with GET,
415 for a body that is neither JSON nor a multipart upload. No request a browser can
send cross-site without a CORS preflight (a GET, or a POST of a form or of text/plain)
ever runs a mutation.
"""

from collections.abc import AsyncIterator, Iterator, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from graphql import GraphQLError, StringValueNode, ValidationRule
from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.websockets import WebSocket, WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.exceptions import ConnectionRejectionError
from strawberry.extensions import AddValidationRules, SchemaExtension
from strawberry.fastapi import GraphQLRouter
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.http.parse_content_type import parse_content_type
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UNSET, UnsetType

from graphql_api.core import ide
from graphql_api.core.context import Context
from graphql_api.core.errors import Unauthenticated
from graphql_api.core.media_types import (
    GRAPHQL_RESPONSE_JSON,
    JSON,
    request_error_status,
    response_media_type,
)
from graphql_api.core.persisted import resolve_request
from graphql_api.core.security_headers import GRAPHIQL_POLICY
from graphql_api.core.ws_connections import LegacyWSHandler, SocketCounts, TransportWSHandler

NUL_MESSAGE = "Strings must not contain NUL characters."
# Apollo's names are accepted too, so its upload clients work unchanged.
PREFLIGHT_HEADERS = (
    "graphql-require-preflight",
    "apollo-require-preflight",
    "x-apollo-operation-name",
)
# What /graphql answers to; any other method is a 405 that says so.
ALLOWED_METHODS = "GET, POST"
OTHER_METHODS = ["PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


class MethodNotAllowed(HTTPException):
    """A 405 with the `Allow` header HTTP requires of it."""

    def __init__(self, reason: str, *, allow: str) -> None:
        super().__init__(405, reason)
        self.allow = allow


def has_nul(value: Any) -> bool:
    """Whether a NUL character hides in a decoded JSON value, keys included."""
    # A loop, not recursion: JSON may nest deeper than Python's recursion limit.
    pending = [value]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return True
        elif isinstance(value, dict):
            pending.extend(value)
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return False


class TextWebSocketAdapter(ASGIWebSocketAdapter):
    """Sends every WebSocket message as a text frame, as both subprotocols require."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        try:
            await self.ws.send_text(self.view.encode_json_string(message))
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc


async def _method_not_allowed() -> Response:
    return PlainTextResponse(
        f"/graphql answers {ALLOWED_METHODS} only.", 405, headers={"Allow": ALLOWED_METHODS}
    )


class GraphQLApiRouter(GraphQLRouter[Context, None]):
    websocket_adapter_class = TextWebSocketAdapter  # type: ignore[assignment]
    graphql_transport_ws_handler_class = TransportWSHandler
    graphql_ws_handler_class = LegacyWSHandler

    def __init__(
        self,
        schema: Any,
        path: str = "",
        *,
        ide_assets: Path | None = None,
        sockets_per_address: int,
        **kwargs: Any,
    ) -> None:
        super().__init__(schema, path, **kwargs)
        self.ide_assets = ide_assets
        self.sockets = SocketCounts(sockets_per_address)
        # Without it Starlette answers other methods with the first route's `Allow: GET`.
        self.add_api_route(
            path, _method_not_allowed, methods=OTHER_METHODS, include_in_schema=False
        )

    async def run(  # type: ignore[override]
        self,
        request: Request | WebSocket,
        context: Context = UNSET,
        root_value: None = UNSET,
    ) -> Response | WebSocket:
        try:
            return await super().run(request, context, root_value)
        except MethodNotAllowed as exc:
            # Strawberry's handlers turn HTTPExceptions into responses without headers.
            return PlainTextResponse(exc.reason, exc.status_code, headers={"Allow": exc.allow})

    def should_render_graphql_ide(self, request: Any) -> bool:
        # A GET that names a persisted document by hash has no `query`: still no page.
        return super().should_render_graphql_ide(request) and (
            "extensions" not in request.query_params
        )

    @property
    def graphql_ide_html(self) -> str:
        return ide.page(self.ide_assets)

    @cached_property
    def _ide_page(self) -> str:
        """GraphiQL's HTML, with every asset served from here (`core.ide`)."""
        return self.graphql_ide_html

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        return HTMLResponse(self._ide_page, headers={"Content-Security-Policy": GRAPHIQL_POLICY})

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        if request.method == "POST":
            content_type, _ = parse_content_type(request.content_type or "")
            # Strawberry's own test, kept as it is so no JSON client breaks. text/plain and
            # forms (which browsers send cross-site without a preflight) end here, unread.
            if "application/json" not in content_type and content_type != "multipart/form-data":
                raise HTTPException(
                    415,
                    "Send GraphQL requests as application/json "
                    "(multipart/form-data for file uploads).",
                )
        return await super().parse_http_body(request)

    def parse_json(self, data: str | bytes) -> Any:
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise HTTPException(400, "Unable to parse request body as JSON") from None
        if isinstance(value, list) and self.schema.config.batching_config is None:
            raise HTTPException(
                400, "Batched requests (a JSON array) are not supported: send one operation."
            )
        if not isinstance(value, dict | list):
            raise HTTPException(400, "The request must be a JSON object.")
        if has_nul(value):
            raise HTTPException(400, NUL_MESSAGE)
        return value

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        refused = await resolve_request(request_data, context=context, schema=self.schema)
        try:
            result = refused or await super().execute_single(
                request, request_adapter, sub_response, context, root_value, request_data
            )
        except HTTPException as exc:
            refused = exc.__cause__
            if (
                request_adapter.method == "GET"
                and isinstance(refused, InvalidOperationTypeError)
                and refused.operation_type is OperationType.MUTATION
            ):
                # The spec's answer: a mutation is not a GET; a browser (or a crawler
                # following a link) can send a GET to any site without asking.
                raise MethodNotAllowed("Mutations must be sent with POST.", allow="POST") from exc
            raise
        # The response's media type travels on the sub-response, which create_response
        # gets (and the request does not).
        sub_response.media_type = response_media_type(request.headers.get("accept"))
        if sub_response.media_type == GRAPHQL_RESPONSE_JSON:
            sub_response.status_code = request_error_status(result) or sub_response.status_code
        return result

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        processed = await super().process_result(request, result)
        if (
            response_media_type(request.headers.get("accept")) == GRAPHQL_RESPONSE_JSON
            and request_error_status(result) is not None
        ):
            # Nothing executed, so there is no data, not even null (the spec's request error).
            processed.pop("data", None)
        return processed

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        response = Response(
            self.encode_json(response_data),
            media_type=sub_response.media_type or JSON,
            status_code=sub_response.status_code or 200,
        )
        response.headers.raw.extend(sub_response.headers.raw)
        return response

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


class PlainHttpRunsNoSubscriptions(SchemaExtension):
    """A subscription sent as a plain GET or POST has no stream to answer on.

    Strawberry allows them there (for its multipart streaming, where only subscriptions
    are allowed) and then fails on the event stream: refuse it up front instead, with
    the same 400 that a mutation over GET gets.
    """

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        allowed = set(context.allowed_operations)
        request = getattr(context.context, "request", None)
        if isinstance(request, Request) and len(allowed) > 1:
            context.allowed_operations = allowed - {OperationType.SUBSCRIPTION}
        yield
