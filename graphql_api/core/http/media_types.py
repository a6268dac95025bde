"""GraphQL over HTTP response media types: which one to answer with, and with what status.

`application/json` is answered as it always was: 200 whatever the errors, because older
clients read the errors from the body of any 200. A client that asks for
`application/graphql-response+json` (the GraphQL-over-HTTP spec's own type) also gets
the spec's status codes: a request that never reached execution (it did not parse,
failed validation or a query limit, or its variables did not coerce) is a 400 with no
`data` entry, so that proxies, logs and client retries can tell it from a result.
"""

from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError

from graphql_api.core.graphql.masking import INTERNAL_CODE

JSON = "application/json"
GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
# Ranges that mean "anything JSON will do": they get the type every client understands.
_JSON_RANGES = frozenset({JSON, "application/*", "*/*"})


def _quality(parameters: str) -> float:
    """The `q` of one Accept entry: 1 when absent, 0 (not acceptable) when malformed."""
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                quality = float(value.strip())
            except ValueError:
                return 0.0
            return quality if 0.0 <= quality <= 1.0 else 0.0
    return 1.0


def response_media_type(accept: str | None) -> str | None:
    """`application/graphql-response+json` if the client names it and likes nothing more.

    Only an explicit mention counts: `*/*` and a missing Accept header mean
    `application/json`, as the spec asks of servers during its transition period.
    None when the client accepts neither (`text/html` alone, say): the spec lets a
    server answer 406 then, which is what it gets (`core.http.request`).
    """
    if not accept or not accept.strip():
        return JSON
    graphql_quality = json_quality = 0.0
    for entry in accept.split(","):
        media_range, _, parameters = entry.partition(";")
        media_range = media_range.strip().lower()
        if media_range == GRAPHQL_RESPONSE_JSON:
            graphql_quality = max(graphql_quality, _quality(parameters))
        elif media_range in _JSON_RANGES:
            json_quality = max(json_quality, _quality(parameters))
    if graphql_quality > 0 and graphql_quality >= json_quality:
        return GRAPHQL_RESPONSE_JSON
    return JSON if json_quality > 0 else None


def request_error_status(result: ExecutionResult) -> int | None:
    """The status of a result whose operation never executed; None if it executed.

    Strawberry returns a `PreExecutionError` for parse and validation failures (query
    limits included); graphql-core reports variables that do not coerce, or an unknown
    operation, as errors without a path and no data, before any resolver runs. An error
    of the server itself at that stage (a bug: it reaches the client masked) is a 500.
    """
    errors = result.errors or []
    if not errors:
        return None
    never_executed = isinstance(result, PreExecutionError) or (
        result.data is None and all(error.path is None for error in errors)
    )
    if not never_executed:
        return None
    if any((error.extensions or {}).get("code") == INTERNAL_CODE for error in errors):
        return 500
    return 400
