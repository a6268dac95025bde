"""One reading of a GraphQL-over-HTTP request, for every way a request is answered.

Strawberry's view (`core.http.view`) and the fast path (`core.http.fast_path`) both turn
what came over HTTP (method, headers, query string or body) into the four GraphQL
parameters here, or into the same request error, so that a shortcut can never accept
what the whole way refuses, or the other way round.

The rules, from the GraphQL-over-HTTP spec where it has one:
- Media types are compared without regard to case (RFC 9110). A POST body is
  `application/json` (a `charset` other than UTF-8 is refused) or, for uploads only,
  `multipart/form-data`; anything else is a 415, refused unread: a browser sends
  forms and text/plain cross-site without a CORS preflight.
- The client must accept `application/graphql-response+json` or `application/json`
  (a wildcard or no Accept header will do); one that accepts neither gets 406.
- `query` is a string, `operationName` a string or null, `variables` and `extensions`
  objects or null (a GET carries the last two as JSON text). A JSON array (a batch)
  is refused, as is a NUL character anywhere (PostgreSQL cannot store one).
- A GET parameter given twice is refused: which one would count is guesswork.
- The document is `query`, or the persisted one a hash in `extensions` names
  (`core.graphql.documents.persisted`): `with_document` is where either is had, for both ways alike.
Every refusal is a request error: a status and a GraphQL error body
(`{"errors": [{"message": ...}]}`) in the negotiated media type; only a client that
accepts no GraphQL media type at all gets the message as text/plain. A persisted
document refused (`DocumentRefused`) is a GraphQL request error instead, answered as a
document that does not validate is: with its code, and 200 under `application/json`.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import orjson
from cross_web import HTTPException
from graphql import GraphQLError
from starlette.types import Scope

from graphql_api.core.graphql.documents.persisted import (
    CheckedSchema,
    PersistedDocuments,
    PersistedQueryError,
)
from graphql_api.core.http.media_types import JSON, response_media_type

NUL_MESSAGE = "Strings must not contain NUL characters."
NO_QUERY_MESSAGE = "No GraphQL query found in the request."
# What /graphql answers to; any other method is a 405 that says so.
ALLOWED_METHODS = "GET, POST"
PLAIN_TEXT = "text/plain; charset=utf-8"
_PARAMETERS = ("query", "variables", "operationName", "extensions")
_IDE_ACCEPTS = ("text/html", "*/*")


class RequestError(HTTPException):
    """A request refused before anything executed, with any headers its status needs."""

    def __init__(self, status: int, message: str, *, headers: Mapping[str, str] | None = None):
        super().__init__(status, message)
        self.headers = dict(headers or {})


class DocumentRefused(RequestError):
    """No document may run for what was sent (a persisted query's refusal,
    `core.graphql.documents.persisted`).

    A GraphQL request error of a well-formed request, so its status follows the media
    type (200 under `application/json`, where Apollo's link reads the code from the body;
    400 under the spec's own), and its body keeps `extensions.code`. Never stored by a
    CDN or a browser: the same URL works once the document is known.
    """

    def __init__(self, error: GraphQLError) -> None:
        super().__init__(400, error.message, headers={"Cache-Control": "no-store"})
        self.error = error


@dataclass(frozen=True, slots=True)
class GraphQLRequest:
    """The parameters of one GraphQL request, each of the type the spec gives it."""

    query: str | None
    variables: dict[str, Any] | None
    operation_name: str | None
    extensions: dict[str, Any] | None


def header(raw: Iterable[tuple[bytes, bytes]], name: bytes, *, first: bool = False) -> str | None:
    """A request header from ASGI's raw list (names in lower case): a repeated one joined
    as HTTP joins lists, or the first one, as Starlette reads it (`first`)."""
    values = [v.decode("latin-1") for k, v in raw if k == name]
    if not values:
        return None
    return values[0] if first else ", ".join(values)


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


def _media_type(content_type: str | None) -> tuple[str, dict[str, str]]:
    """A Content-Type's media type and parameters, names lowercased, quotes removed."""
    media_type, *parameters = (content_type or "").split(";")
    options = {}
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        options[name.strip().lower()] = value.strip().strip('"')
    return media_type.strip().lower(), options


def is_json(content_type: str | None) -> bool:
    """Whether a POST body of this Content-Type is read as JSON (`read_post`)."""
    return _media_type(content_type)[0] == JSON


def is_multipart(content_type: str | None) -> bool:
    return _media_type(content_type)[0] == "multipart/form-data"


def negotiated(accept: str | None) -> str:
    """The response's media type; a 406 if the client accepts no GraphQL one."""
    media_type = response_media_type(accept)
    if media_type is None:
        raise RequestError(
            406, "Accept application/graphql-response+json or application/json to read the answer."
        )
    return media_type


def wants_ide(method: str, params: Iterable[tuple[str, str]], accept: str | None) -> bool:
    """A browser opening /graphql: a GET that names no document and accepts HTML."""
    if method != "GET" or any(k in ("query", "extensions") for k, _ in params):
        return False
    accept = (accept or "").lower()
    return any(media_range in accept for media_range in _IDE_ACCEPTS)


def decode_json(data: str | bytes, what: str = "request body") -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        raise RequestError(400, f"Unable to parse {what} as JSON") from None


def read_post(content_type: str | None, body: bytes) -> GraphQLRequest:
    """A POST with a JSON body (multipart uploads are read by the view, then `read_json`)."""
    media_type, options = _media_type(content_type)
    if media_type != JSON:
        raise RequestError(
            415, "Send GraphQL requests as application/json (multipart/form-data for file uploads)."
        )
    if options.get("charset", "utf-8").lower() not in ("utf-8", "utf8"):
        raise RequestError(415, "Send GraphQL requests encoded as UTF-8.")
    return read_json(decode_json(body))


def read_get(params: Iterable[tuple[str, str]]) -> GraphQLRequest:
    """A GET's query string: `variables` and `extensions` come as JSON text."""
    data: dict[str, Any] = {}
    for name, value in params:
        if name not in _PARAMETERS or value == "":
            continue  # others are not ours; an empty field of a form is left out
        if name in data:
            raise RequestError(400, f"The `{name}` parameter is given more than once.")
        if name in ("variables", "extensions"):
            value = decode_json(value, f"the `{name}` parameter")
        data[name] = value
    return read_json(data)


def read_json(data: Any) -> GraphQLRequest:
    """The parameters of a decoded JSON request, checked the same for every transport."""
    if isinstance(data, list):
        raise RequestError(
            400, "Batched requests (a JSON array) are not supported: send one operation."
        )
    if not isinstance(data, dict):
        raise RequestError(400, "The request must be a JSON object.")
    if has_nul(data):
        raise RequestError(400, NUL_MESSAGE)
    return GraphQLRequest(
        query=_parameter(data, "query", str),
        variables=_parameter(data, "variables", dict),
        operation_name=_parameter(data, "operationName", str),
        extensions=_parameter(data, "extensions", dict),
    )


def _parameter(data: dict[str, Any], name: str, kind: type) -> Any:
    """One parameter, of its JSON type or null (left out is null)."""
    value = data.get(name)
    if value is not None and not isinstance(value, kind):
        what = "a string" if kind is str else "an object"
        raise RequestError(
            400, f"The GraphQL operation's `{name}` must be {what} or null, if provided."
        )
    return value


async def with_document(
    request: GraphQLRequest, *, scope: Scope, schema: CheckedSchema
) -> GraphQLRequest:
    """The request with its document's text, or the request error of a missing one.

    The one step that turns `query` and `extensions` into the text to parse, for both
    ways: where persisted documents (a hash in `extensions`) are looked up in the app's
    (`scope["app"]`), a document sent with its hash registered (so many per client
    address), and with `trusted_documents_only` any other refused.
    """
    persisted: PersistedDocuments = scope["app"].state.services.persisted
    client = scope.get("client")
    try:
        query = await persisted.document(
            query=request.query,
            extensions=request.extensions,
            client=client[0] if client else None,
            schema=schema,
        )
    except PersistedQueryError as error:
        raise DocumentRefused(error) from None
    if not query:
        raise RequestError(400, NO_QUERY_MESSAGE)
    return replace(request, query=query)


def error_answer(error: HTTPException, accept: str | None) -> tuple[int, str, bytes]:
    """Status, media type and body of a request error: a GraphQL error body, unless the
    client accepts no GraphQL media type (then the message as plain text)."""
    media_type = response_media_type(accept)
    if media_type is None:
        return error.status_code, PLAIN_TEXT, error.reason.encode()
    if isinstance(error, DocumentRefused):
        # As Strawberry writes a result that never executed (`core.http.view`).
        if media_type == JSON:
            return 200, JSON, orjson.dumps({"data": None, "errors": [error.error.formatted]})
        return error.status_code, media_type, orjson.dumps({"errors": [error.error.formatted]})
    return error.status_code, media_type, orjson.dumps({"errors": [{"message": error.reason}]})
