"""GraphQL over HTTP and WebSocket: Strawberry's view, fitted to this server.

A request is read by `core.http.request`, the reading the fast path shares: strict
JSON, valid UTF-8 without lone surrogates (orjson and the GraphQL parser refuse them)
and without NUL characters, which PostgreSQL cannot store and which no legitimate
client sends. orjson writes the answers.

It keeps to the GraphQL-over-HTTP spec: `application/graphql-response+json` for
clients that ask for it (see `core.http.media_types`), 405 for a mutation sent with GET,
every refusal a GraphQL error body. No request a browser can send cross-site without
a CORS preflight (a GET, or a POST of a form or of text/plain) ever runs a mutation.
"""

import time
from collections.abc import AsyncIterator, Iterator, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException, StarletteRequestAdapter
from graphql import GraphQLError, StringValueNode, ValidationRule
from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Scope
from starlette.websockets import WebSocket, WebSocketDisconnect
from starlette.websockets import WebSocketDisconnected as SendAfterClose
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.exceptions import ConnectionRejectionError
from strawberry.extensions import AddValidationRules, SchemaExtension
from strawberry.fastapi import GraphQLRouter
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UNSET, UnsetType

from graphql_api.core.graphql.context import Context
from graphql_api.core.graphql.errors import Unauthenticated
from graphql_api.core.graphql.execution import OperationNotFound
from graphql_api.core.graphql.internals import starlette_request
from graphql_api.core.http import ide
from graphql_api.core.http.media_types import (
    GRAPHQL_RESPONSE_JSON,
    JSON,
    request_error_status,
    response_media_type,
)
from graphql_api.core.http.middleware.security_headers import GRAPHIQL_POLICY
from graphql_api.core.http.outbox import Outbox
from graphql_api.core.http.request import (
    ALLOWED_METHODS,
    NUL_MESSAGE,
    DocumentRefused,
    RequestError,
    decode_json,
    error_answer,
    header,
    is_multipart,
    negotiated,
    read_get,
    read_json,
    read_post,
    wants_ide,
    with_document,
)
from graphql_api.core.http.websocket import LegacyWSHandler, SocketCounts, TransportWSHandler
from graphql_api.core.metrics import record_operation

# Apollo's names are accepted too, so its upload clients work unchanged.
PREFLIGHT_HEADERS = (
    "graphql-require-preflight",
    "apollo-require-preflight",
    "x-apollo-operation-name",
)
OTHER_METHODS = ["PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def error_response(error: HTTPException, request: Request) -> Response:
    """A request error as `core.http.request` writes it, with the headers its status needs."""
    status, media_type, body = error_answer(error, header(request.scope["headers"], b"accept"))
    headers = error.headers if isinstance(error, RequestError) else None
    return Response(body, status, headers=headers, media_type=media_type)


def _raw_headers(request: AsyncHTTPRequestAdapter) -> list[tuple[bytes, bytes]]:
    return getattr(request.headers, "raw", [])  # Starlette's Headers keep the raw list


def _operation_message(refused: CannotGetOperationTypeError) -> str:
    """graphql-core's words for an operation that cannot be picked (`core.graphql.execution`)."""
    if isinstance(refused.__cause__, OperationNotFound):
        return str(refused.__cause__)
    return refused.as_http_error_reason()


class ViewRequest(StarletteRequestAdapter):
    """Strawberry's request adapter, with the ASGI scope that `with_document` reads."""

    @property
    def scope(self) -> Scope:
        return starlette_request(self).scope


class TextWebSocketAdapter(ASGIWebSocketAdapter):
    """Sends every WebSocket message as a text frame, as both subprotocols require.

    A send to a socket that is gone raises Strawberry's WebSocketDisconnected, however
    it went: Starlette raises WebSocketDisconnect for the send that finds the client gone
    (uvicorn's ClientDisconnected), then a RuntimeError for every later one, which the
    other operations on the socket meet before the handler has cancelled them.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.outbox = Outbox(self.ws.send_text)  # the feeds' frames (core.graphql.fanout)

    async def send_json(self, message: Mapping[str, object]) -> None:
        try:
            await self.ws.send_text(self.view.encode_json_string(message))
        except (WebSocketDisconnect, SendAfterClose) as exc:
            raise WebSocketDisconnected from exc


async def _method_not_allowed(request: Request) -> Response:
    refusal = f"/graphql answers {ALLOWED_METHODS} only."
    return error_response(RequestError(405, refusal, headers={"Allow": ALLOWED_METHODS}), request)


class GraphQLApiRouter(GraphQLRouter[Context, None]):
    request_adapter_class = ViewRequest
    websocket_adapter_class = TextWebSocketAdapter
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

    # Strawberry's run takes context=None too; this view always builds its own Context.
    async def run(  # type: ignore[override]
        self,
        request: Request | WebSocket,
        context: Context = UNSET,
        root_value: None = UNSET,
    ) -> Response | WebSocket:
        try:
            return await super().run(request, context, root_value)
        except HTTPException as exc:
            if not isinstance(request, Request):
                raise
            # Strawberry's handlers answer these as text/plain, without headers.
            return error_response(exc, request)

    def should_render_graphql_ide(self, request: Any) -> bool:
        accept = header(_raw_headers(request), b"accept")
        params = request.query_params.multi_items()
        return self.graphql_ide is not None and wants_ide(request.method, params, accept)

    @property
    def graphql_ide_html(self) -> str:
        return ide.page(self.ide_assets)

    @cached_property
    def _ide_page(self) -> str:
        """GraphiQL's HTML, with every asset served from here (`core.http.ide`)."""
        return self.graphql_ide_html

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        return HTMLResponse(self._ide_page, headers={"Content-Security-Policy": GRAPHIQL_POLICY})

    # Strawberry passes its adapter, which is ViewRequest (request_adapter_class) here.
    async def parse_http_body(self, request: ViewRequest) -> GraphQLRequestData:  # type: ignore[override]
        """The request as `core.http.request` reads it, for the fast path reads it so too."""
        raw = _raw_headers(request)
        negotiated(header(raw, b"accept"))
        content_type = header(raw, b"content-type")
        if request.method == "GET":
            # Starlette's QueryParams, which the adapter's annotation calls a Mapping.
            parsed = read_get(request.query_params.multi_items())  # type: ignore[attr-defined]
        elif self.multipart_uploads_enabled and is_multipart(content_type):
            parsed = read_json(await self.parse_multipart(request))
        else:
            # text/plain and forms (which browsers send cross-site without a preflight)
            # end here, unread.
            parsed = read_post(content_type, await request.get_body())
        started = time.perf_counter()
        try:
            # The app's Schema (graphql_api.schema), which Strawberry types as BaseSchema.
            parsed = await with_document(
                parsed,
                scope=request.scope,
                schema=self.schema,  # type: ignore[arg-type]
            )
        except DocumentRefused as refused:
            # Counted as the request errors they are: operators see how often hashes miss.
            name = parsed.operation_name
            record_operation(name, "invalid", time.perf_counter() - started, [refused.error])
            raise
        return GraphQLRequestData(
            query=parsed.query,
            variables=parsed.variables,
            operation_name=parsed.operation_name,
            extensions=parsed.extensions,
        )

    def parse_json(self, data: str | bytes) -> Any:
        return decode_json(data)

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        try:
            result = await super().execute_single(
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
                raise RequestError(
                    405, "Mutations must be sent with POST.", headers={"Allow": "POST"}
                ) from exc
            if not isinstance(refused, CannotGetOperationTypeError):
                raise
            # No operation to run: a request error of GraphQL's, answered as the others.
            error = GraphQLError(_operation_message(refused))
            result = PreExecutionError(data=None, errors=[error])
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
        return UNSET  # type: ignore[no-any-return]  # Strawberry types UNSET as Any

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
