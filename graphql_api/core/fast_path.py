"""Queries seen before, answered straight from their plans: the read path's short cut.

A query's first request takes the whole way: FastAPI's router, Strawberry's view, its
extensions, parsing, validation and the query limits; what depends on the document
alone is then cached (`core.documents`), and so is its plan (`core.compiled`). For
the requests that follow, that way is mostly overhead: on a page of 20 items it cost
about as much as executing the query. This ASGI middleware takes a POST of a query
whose document passed every check and answers it itself, doing only what depends on
the request: the body, the token, the variables (coerced, and priced against the cost
limit), and the plan's run. It answers a GET too, and a query named by its hash
(`core.persisted`): hash-only requests are what persisted queries are for.

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
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.execution.is_awaitable import optimized_is_awaitable

from graphql_api.core.compiled import run_compiled
from graphql_api.core.context import Context, bearer_token
from graphql_api.core.cost import priced
from graphql_api.core.media_types import response_media_type
from graphql_api.core.metrics import record_operation
from graphql_api.core.persisted import PersistedQueryError, get_parameters
from graphql_api.core.transport import has_nul

logger = logging.getLogger(__name__)

# The headers a fast answer carries itself; any other a resolver set is passed on.
_OWN_HEADERS = frozenset({b"content-type", b"content-length"})


def _is_json(content_type: bytes) -> bool:
    return content_type.split(b";", 1)[0].strip().lower() == b"application/json"


def _decoded(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


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
    """Answers POSTed queries seen before on `path` from their plans; passes on the rest."""

    def __init__(self, app: ASGIApp, *, schema: Any, path: str = "/graphql") -> None:
        self.app = app
        self.schema = schema
        self.path = path
        self.answered = 0  # requests this path answered (tests read it)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope.get("method")
        if scope["type"] != "http" or method not in ("GET", "POST") or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        headers = dict(reversed(scope["headers"]))  # the first of repeated headers, as Starlette
        if method == "GET":
            # Queries by hash are what GET is for (a short URL a CDN can cache).
            body, request = b"", get_parameters(scope["query_string"])
            if has_nul(request):
                request = None
        elif _is_json(headers.get(b"content-type", b"")):
            body = await _read_body(receive)
            if body is None:
                return  # nobody to answer
            request = _decoded(body)
        else:
            await self.app(scope, receive, send)
            return
        try:
            answer = None if request is None else await self.answer(scope, headers, request)
        except Exception:
            # A fault of this path's own: the whole way answers, and reports what it finds.
            logger.exception("the fast path failed; answering the whole way")
            answer = None
        if answer is None:
            await self.app(scope, _replay(body, receive) if method == "POST" else receive, send)
            return
        self.answered += 1
        content, response_headers = answer
        await send({"type": "http.response.start", "status": 200, "headers": response_headers})
        await send({"type": "http.response.body", "body": content})

    async def answer(
        self, scope: Scope, headers: dict[bytes, bytes], request: Any
    ) -> tuple[bytes, list[tuple[bytes, bytes]]] | None:
        """The answer's body and headers, if this path can give it."""
        started = time.perf_counter()
        if not isinstance(request, dict) or not request.keys() <= {
            "query",
            "variables",
            "operationName",
            "extensions",
        }:
            return None
        query = request.get("query")
        variables = request.get("variables") or {}
        operation_name = request.get("operationName")
        if (
            not isinstance(query, str | None)
            or not isinstance(variables, dict)
            or not isinstance(operation_name, str | None)
            or has_nul(variables)
        ):
            return None
        state = scope["app"].state.services
        try:
            query = await state.persisted.document(
                query=query,
                extensions=request.get("extensions"),
                client=(scope.get("client") or (None,))[0],
                schema=self.schema,
            )
        except PersistedQueryError:
            return None  # the whole way answers it
        if query is None:
            return None
        cached = self.schema.documents.get(query)
        if cached is None or cached.errors != []:
            return None  # not seen, or not valid: the whole way says why
        document = cached.document
        operation = get_operation_ast(document, operation_name)
        if not isinstance(operation, OperationDefinitionNode):
            return None
        if operation.operation is not OperationType.QUERY:
            return None

        context = Context(
            state,
            token=bearer_token(headers.get(b"authorization", b"").decode("latin-1") or None),
            request_id=scope.get("state", {}).get("request_id", ""),
        )
        context.request = Request(scope)
        context.response = sub_response = Response()
        executor = self.schema.execution_context_class.build(
            self.schema._schema,
            document,
            context_value=context,
            raw_variable_values=variables,
            operation_name=operation_name,
            is_awaitable=optimized_is_awaitable,
        )
        if isinstance(executor, list):
            return None  # variables that do not coerce
        # Priced with the values it will run with: `2.0` is the Int 2, null the default.
        ceiling = self.schema.limits.max_cost
        coerced = executor.variable_values.coerced
        if priced(self.schema._schema, document, cached, operation_name, coerced, ceiling) > (
            ceiling
        ):
            return None
        run = run_compiled(executor, self.schema.plans)
        result = None if run is None else await run
        if result is None:
            return None
        media_type = response_media_type(headers.get(b"accept", b"").decode("latin-1") or None)
        content = orjson.dumps({"data": result.data})
        name = operation.name.value if operation.name else None
        record_operation(name, "query", time.perf_counter() - started)
        return content, [
            (b"content-type", media_type.encode()),
            (b"content-length", str(len(content)).encode()),
            *((k, v) for k, v in sub_response.raw_headers if k not in _OWN_HEADERS),
        ]
