"""Queries seen before, answered straight from their plans: the read path's short cut.

A query's first request takes the whole way: FastAPI's router, Strawberry's view, its
extensions, parsing, validation and the query limits; what depends on the document
alone is then cached (`core.graphql.documents.cache`), and so is its plan
(`core.graphql.engine.plans`). For
the requests that follow, that way is mostly overhead: on a page of 20 items it cost
about as much as executing the query. This ASGI middleware takes a POST of a query
(or a GET) of a query whose document passed every check and answers it itself, doing
only what depends on the request: the request read as the whole way reads it
(`core.http.request`, one reading for both, a query named by its hash included:
hash-only requests are what persisted queries are for), the token, the variables
(coerced, and priced against the cost limit), and the plan's run.

It answers only what the whole way would answer without an error, byte for byte the
same. Anything else (a document not seen or not valid, variables that do not coerce or
cost too much, a mutation, a resolver error or anything else a plan hands back to
graphql-core) goes the whole way, with the body replayed: queries change nothing, so
running one twice is safe.
"""

import logging
import time
from typing import Any

import orjson
from graphql import OperationDefinitionNode, OperationType
from graphql.utilities import get_operation_ast
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.execution.is_awaitable import optimized_is_awaitable

from graphql_api.core.graphql.context import Context, bearer_token
from graphql_api.core.graphql.cost import priced
from graphql_api.core.graphql.documents.cache import CachedDocument
from graphql_api.core.graphql.internals import graphql_core_schema
from graphql_api.core.http.request import (
    GraphQLRequest,
    RequestError,
    header,
    is_json,
    negotiated,
    read_get,
    read_post,
    wants_ide,
    with_document,
)
from graphql_api.core.metrics import record_operation

logger = logging.getLogger(__name__)

# The headers a fast answer carries itself; any other a resolver set is passed on.
_OWN_HEADERS = frozenset({b"content-type", b"content-length"})


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives the body read already, then whatever the client sends next."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


async def _read_body(receive: Receive) -> bytes | None:
    """The whole body; None if the client left before sending it."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


class FastQueries:
    """Answers queries seen before on `path` from their plans; passes on the rest."""

    def __init__(self, app: ASGIApp, *, schema: Any, path: str = "/graphql") -> None:
        self.app = app
        self.schema = schema
        self.path = path
        self.answered = 0  # requests this path answered (tests read it)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in ("GET", "POST")
            or scope["path"] != self.path
        ):
            await self.app(scope, receive, send)
            return
        body = b""
        if scope["method"] == "POST":
            if not is_json(header(scope["headers"], b"content-type")):
                # Refused or an upload: the whole way says which, the body left unread.
                await self.app(scope, receive, send)
                return
            read = await _read_body(receive)
            if read is None:
                return  # nobody to answer
            body = read
            receive = _replay(body, receive)
        try:
            answer = await self.answer(scope, body)
        except Exception:
            # A fault of this path's own: the whole way answers, and reports what it finds.
            logger.exception("the fast path failed; answering the whole way")
            answer = None
        if answer is None:
            await self.app(scope, receive, send)
            return
        self.answered += 1
        content, response_headers = answer
        await send({"type": "http.response.start", "status": 200, "headers": response_headers})
        await send({"type": "http.response.body", "body": content})

    def seen(self, query: str) -> CachedDocument | None:
        """The query's document, if the whole way found it valid; None if not seen or not
        valid: the whole way says why."""
        cached = self.schema.documents.get(query)
        return cached if cached is not None and cached.errors == [] else None

    async def read(self, scope: Scope, body: bytes) -> tuple[GraphQLRequest, str] | None:
        """The request and the media type to answer in, read as the whole way reads them
        (a persisted document's text had the same way too); None for GraphiQL's page and
        for a request error, a persisted query's refusal included: the whole way answers."""
        raw = scope["headers"]
        accept = header(raw, b"accept")
        try:
            if scope["method"] == "GET":
                params = QueryParams(scope["query_string"]).multi_items()
                if wants_ide("GET", params, accept):
                    return None
                media_type = negotiated(accept)
                request = read_get(params)
            else:
                media_type = negotiated(accept)
                request = read_post(header(raw, b"content-type"), body)
            if request.query and not self.seen(request.query):
                # The whole way answers it: a document sent with its hash is then checked
                # and registered once, not here and again there.
                return None
            return await with_document(request, scope=scope, schema=self.schema), media_type
        except RequestError:
            return None

    async def answer(
        self, scope: Scope, body: bytes
    ) -> tuple[bytes, list[tuple[bytes, bytes]]] | None:
        """The answer's body and headers, if this path can give it."""
        started = time.perf_counter()
        read = await self.read(scope, body)
        if read is None:
            return None
        request, media_type = read
        query, operation_name = request.query, request.operation_name
        cached = None if query is None else self.seen(query)
        if cached is None:
            return None
        document = cached.document
        operation = get_operation_ast(document, operation_name)
        if not isinstance(operation, OperationDefinitionNode):
            return None
        if operation.operation is not OperationType.QUERY:
            return None

        state = scope["app"].state.services
        context = Context(
            state,
            token=bearer_token(header(scope["headers"], b"authorization", first=True)),
            request_id=scope.get("state", {}).get("request_id", ""),
        )
        context.request = Request(scope)
        context.response = sub_response = Response()
        schema = graphql_core_schema(self.schema)
        executor = self.schema.execution_context_class.build(
            schema,
            document,
            context_value=context,
            raw_variable_values=request.variables or {},
            operation_name=operation_name,
            is_awaitable=optimized_is_awaitable,
            operation_extensions=request.extensions,
        )
        if isinstance(executor, list):
            return None  # variables that do not coerce
        # Priced with the values it will run with: `2.0` is the Int 2, null the default.
        ceiling = self.schema.limits.max_cost
        coerced = executor.variable_values.coerced
        if priced(schema, document, cached, operation_name, coerced, ceiling) > ceiling:
            return None
        run = self.schema.plans.run(executor, sql=True)
        result = None if run is None else await run
        if result is None:
            return None
        content = orjson.dumps({"data": result.data})
        name = operation.name.value if operation.name else None
        record_operation(name, "query", time.perf_counter() - started)
        return content, [
            (b"content-type", media_type.encode()),
            (b"content-length", str(len(content)).encode()),
            *((k, v) for k, v in sub_response.raw_headers if k not in _OWN_HEADERS),
        ]
