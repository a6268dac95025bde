"""GraphQL over HTTP: media types and status codes, and no mutation from a request a
browser sends cross-site without a CORS preflight (a GET, a form, text/plain)."""

from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from graphql import GraphQLError
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError

from graphql_api.core.http.media_types import request_error_status, response_media_type
from graphql_api.core.http.request import NO_QUERY_MESSAGE as NO_QUERY
from graphql_api.state import AppState
from tests.support.client import client_for
from tests.support.databases import count_rows

GRAPHQL_RESPONSE = "application/graphql-response+json"
REGISTER = """mutation Register($input: RegisterInput!) {
  register(input: $input) { user { id } userErrors { code } } }"""
MALLORY = {"email": "mallory@example.com", "username": "mallory", "password": "long enough pw"}
REGISTER_BODY = orjson.dumps({"query": REGISTER, "variables": {"input": MALLORY}})
REGISTER_INLINE = (
    'mutation { register(input: {email: "mallory@example.com", username: "mallory", '
    'password: "long enough pw"}) { user { id } } }'
)


async def post(http: httpx.AsyncClient, body: dict[str, Any], accept: str | None) -> httpx.Response:
    headers = {"Accept": accept} if accept else {}
    return await http.post("/graphql", json=body, headers=headers)


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, "application/json"),
        ("", "application/json"),
        ("*/*", "application/json"),
        ("application/json", "application/json"),
        ("text/html", None),  # nothing GraphQL: a 406
        (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE}, application/json;q=0.9", GRAPHQL_RESPONSE),
        (f"application/json, {GRAPHQL_RESPONSE}", GRAPHQL_RESPONSE),
        (f"application/json, {GRAPHQL_RESPONSE};q=0.5", "application/json"),
        (f"{GRAPHQL_RESPONSE};q=0", None),
        (f"{GRAPHQL_RESPONSE};q=x", None),
        (f"{GRAPHQL_RESPONSE};q=2", None),
        (f"{GRAPHQL_RESPONSE};q=0, */*;q=0.1", "application/json"),
        ("APPLICATION/GRAPHQL-RESPONSE+JSON ; q=0.8, */*;q=0.1", GRAPHQL_RESPONSE),
    ],
)
def test_media_type_follows_the_accept_header(accept: str | None, expected: str | None) -> None:
    assert response_media_type(accept) == expected


def test_a_server_fault_before_execution_is_500_not_a_client_error() -> None:
    masked = GraphQLError("Internal server error", extensions={"code": "INTERNAL_SERVER_ERROR"})
    assert request_error_status(PreExecutionError(data=None, errors=[masked])) == 500
    invalid = GraphQLError("Cannot query field 'x' on type 'Query'.")
    assert request_error_status(PreExecutionError(data=None, errors=[invalid])) == 400
    field_error = GraphQLError("Boom", path=["users"])
    assert request_error_status(ExecutionResult(data=None, errors=[field_error])) is None
    assert request_error_status(ExecutionResult(data={"a": 1}, errors=None)) is None


async def test_a_result_comes_as_the_media_type_asked_for(http: httpx.AsyncClient) -> None:
    for accept, media_type in [(GRAPHQL_RESPONSE, GRAPHQL_RESPONSE), (None, "application/json")]:
        response = await post(http, {"query": "{ __typename }"}, accept)
        assert response.status_code == 200
        assert response.headers["content-type"] == media_type
        assert response.json() == {"data": {"__typename": "Query"}}


REQUEST_ERRORS = [
    pytest.param({"query": "{"}, id="parse"),
    pytest.param({"query": "{ noSuchField }"}, id="validation"),
    pytest.param(
        {"query": "query($id: ID!) { node(id: $id) { id } }", "variables": {"id": None}},
        id="variable-coercion",
    ),
]


@pytest.mark.parametrize("body", REQUEST_ERRORS)
async def test_request_errors_are_400_without_data_for_graphql_response_json(
    http: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    response = await post(http, body, GRAPHQL_RESPONSE)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == GRAPHQL_RESPONSE
    result = response.json()
    assert "data" not in result
    assert result["errors"][0]["message"]


@pytest.mark.parametrize("body", REQUEST_ERRORS)
async def test_request_errors_stay_200_with_null_data_for_application_json(
    http: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    for accept in (None, "application/json", "*/*"):
        response = await post(http, body, accept)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        result = response.json()
        assert result["data"] is None
        assert result["errors"][0]["message"]


OPERATIONS = "query A { __typename } query B { __typename }"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(
            {"query": OPERATIONS, "operationName": "C"},
            'Unknown operation named "C".',
            id="unknown",
        ),
        pytest.param(
            {"query": OPERATIONS},
            "Must provide operation name if query contains multiple operations.",
            id="several-without-a-name",
        ),
        pytest.param(
            {"query": OPERATIONS, "operationName": None},
            "Must provide operation name if query contains multiple operations.",
            id="several-with-a-null-name",
        ),
        pytest.param({"query": "fragment F on Query { __typename }"}, "Must provide an operation."),
    ],
)
@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_an_operation_that_cannot_be_picked_is_a_request_error(
    http: httpx.AsyncClient, body: dict[str, Any], message: str, method: str
) -> None:
    """As the GraphQL spec's GetOperation says: never the document's first operation."""
    for accept, status in [(GRAPHQL_RESPONSE, 400), ("application/json", 200), (None, 200)]:
        headers = {"Accept": accept} if accept else {}
        if method == "GET":
            params = {k: v for k, v in body.items() if v is not None}
            response = await http.get("/graphql", params=params, headers=headers)
        else:
            response = await http.post("/graphql", json=body, headers=headers)
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == (accept or "application/json")
        expected: dict[str, Any] = {"errors": [{"message": message}]}
        if status == 200:
            expected = {"data": None, **expected}
        assert response.json() == expected


async def test_an_executed_operation_is_200_even_with_null_data(http: httpx.AsyncClient) -> None:
    # `users` is non-null and refuses the anonymous: its error nulls the whole data, but the
    # operation ran, so this is a GraphQL result, not a request error.
    response = await post(http, {"query": "{ users { totalCount } }"}, GRAPHQL_RESPONSE)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == GRAPHQL_RESPONSE
    result = response.json()
    assert result["data"] is None
    assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert result["errors"][0]["path"] == ["users"]


@pytest.mark.parametrize("accept", [GRAPHQL_RESPONSE, "application/json", "*/*"])
@pytest.mark.parametrize(
    "params",
    [
        {"query": REGISTER_INLINE},
        # A document with a query too, the mutation picked by name.
        {
            "query": "query Q { __typename } " + REGISTER_INLINE.replace("mutation", "mutation M"),
            "operationName": "M",
        },
    ],
)
async def test_get_never_runs_a_mutation(
    http: httpx.AsyncClient, services: AppState, accept: str, params: dict[str, str]
) -> None:
    response = await http.get("/graphql", params=params, headers={"Accept": accept})
    assert response.status_code == 405, response.text
    assert response.headers["allow"] == "POST"
    assert "POST" in response.text
    assert await count_rows(services.engine, "users") == 0


async def test_get_runs_queries(http: httpx.AsyncClient) -> None:
    response = await http.get("/graphql", params={"query": "{ __typename }"})
    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
async def test_other_methods_are_405_naming_the_allowed_ones(
    http: httpx.AsyncClient, services: AppState, method: str
) -> None:
    response = await http.request(
        method, "/graphql", content=REGISTER_BODY, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert await count_rows(services.engine, "users") == 0


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "application/graphql",
        None,
    ],
)
async def test_bodies_a_browser_sends_without_preflight_are_refused_unread(
    http: httpx.AsyncClient, services: AppState, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = await http.post("/graphql", content=REGISTER_BODY, headers=headers)
    assert response.status_code == 415, response.text
    assert "application/json" in response.text
    assert await count_rows(services.engine, "users") == 0


async def test_a_form_post_is_refused(http: httpx.AsyncClient, services: AppState) -> None:
    response = await http.post(
        "/graphql", data={"query": REGISTER_INLINE, "operations": REGISTER_BODY.decode()}
    )
    assert response.status_code == 415, response.text
    assert await count_rows(services.engine, "users") == 0


async def test_multipart_without_the_preflight_header_is_refused(
    http: httpx.AsyncClient, services: AppState
) -> None:
    response = await http.post(
        "/graphql",
        data={"operations": REGISTER_BODY.decode(), "map": "{}"},
        files={"unused": ("a.txt", b"x", "text/plain")},
    )
    assert response.status_code == 400, response.text
    assert "GraphQL-Require-Preflight" in response.text
    assert await count_rows(services.engine, "users") == 0


async def test_json_posts_still_run_mutations(http: httpx.AsyncClient, services: AppState) -> None:
    response = await http.post(
        "/graphql", content=REGISTER_BODY, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200
    assert response.json()["data"]["register"]["userErrors"] == []
    assert await count_rows(services.engine, "users") == 1


@pytest.mark.parametrize(
    "body",
    [b"[]", b'[{"query": "{ __typename }"}]', REGISTER_BODY.join([b"[", b"]"]), b"[1, 2]"],
)
async def test_batches_are_a_clear_400(
    http: httpx.AsyncClient, services: AppState, body: bytes
) -> None:
    response = await http.post(
        "/graphql", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert "Batched requests" in response.text
    assert await count_rows(services.engine, "users") == 0


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_a_subscription_over_plain_http_is_a_400(
    http: httpx.AsyncClient, method: str
) -> None:
    # It has no stream to answer on (WebSockets and multipart streaming have).
    query = 'subscription { chatEvents(room: "general") { __typename } }'
    if method == "GET":
        response = await http.get(
            "/graphql", params={"query": query}, headers={"Accept": "application/json"}
        )
    else:
        response = await http.post("/graphql", json={"query": query})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    message = f"subscriptions are not allowed when using {method}"
    assert response.json() == {"errors": [{"message": message}]}


def _error_body(message: str) -> dict[str, Any]:
    return {"errors": [{"message": message}]}


@pytest.mark.parametrize("accept", [None, "application/json", GRAPHQL_RESPONSE, "*/*"])
@pytest.mark.parametrize(
    ("method", "content", "content_type", "status", "message"),
    [
        pytest.param(
            "POST",
            b'[{"query": "{ __typename }"}]',
            "application/json",
            400,
            "Batched requests (a JSON array) are not supported: send one operation.",
            id="batch",
        ),
        pytest.param(
            "POST",
            b'{"query": "{ __typename }", "variables": []}',
            "application/json",
            400,
            "The GraphQL operation's `variables` must be an object or null, if provided.",
            id="variables-a-list",
        ),
        pytest.param(
            "POST",
            b'{"query": "{ __typename }"',
            "application/json",
            400,
            "Unable to parse request body as JSON",
            id="broken-json",
        ),
        pytest.param(
            "POST", b'{"variables": {}}', "application/json", 400, NO_QUERY, id="no-query"
        ),
        pytest.param(
            "POST",
            b'{"query": "{ __typename }"}',
            "application/json; charset=latin-1",
            415,
            "Send GraphQL requests encoded as UTF-8.",
            id="latin-1",
        ),
        pytest.param(
            "POST",
            b'{"query": "{ __typename }"}',
            "text/plain",
            415,
            "Send GraphQL requests as application/json (multipart/form-data for file uploads).",
            id="text-plain",
        ),
        pytest.param(
            "GET",
            None,
            None,
            400,
            "The `query` parameter is given more than once.",
            id="get-twice",
        ),
        pytest.param("PUT", b"{}", "application/json", 405, "/graphql answers GET, POST only."),
    ],
)
async def test_every_refusal_is_a_graphql_error_in_the_negotiated_media_type(
    http: httpx.AsyncClient,
    accept: str | None,
    method: str,
    content: bytes | None,
    content_type: str | None,
    status: int,
    message: str,
) -> None:
    headers = {"Accept": accept} if accept else {}
    if content_type:
        headers["Content-Type"] = content_type
    url = (
        "/graphql?query=%7B__typename%7D&query=%7Bme%7Bid%7D%7D" if method == "GET" else "/graphql"
    )
    response = await http.request(method, url, content=content, headers=headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == (
        GRAPHQL_RESPONSE if accept == GRAPHQL_RESPONSE else "application/json"
    )
    assert response.json() == _error_body(message)
    if status == 405:
        assert response.headers["allow"] == "GET, POST"


@pytest.mark.parametrize("accept", ["text/html", "image/png", f"{GRAPHQL_RESPONSE};q=0"])
async def test_a_client_that_accepts_nothing_graphql_gets_406_in_plain_text(
    http: httpx.AsyncClient, accept: str
) -> None:
    for request in [
        http.post("/graphql", json={"query": "{ __typename }"}, headers={"Accept": accept}),
        http.get("/graphql", params={"query": "{ __typename }"}, headers={"Accept": accept}),
        http.post("/graphql", content=b"[]", headers={"Accept": accept}),
    ]:
        response = await request
        assert response.status_code == 406, response.text
        assert response.headers["content-type"] == "text/plain; charset=utf-8"
        assert "application/graphql-response+json or application/json" in response.text


async def test_graphiql_is_for_a_browser_and_a_get_without_a_document(
    http: httpx.AsyncClient,
) -> None:
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    page = await http.get("/graphql", headers={"Accept": browser})
    assert page.headers["content-type"].startswith("text/html")
    # A GET with a document, or with only its hash in `extensions` (persisted queries),
    # is a GraphQL request, whatever it accepts.
    asked = await http.get(
        "/graphql", params={"query": "{ __typename }"}, headers={"Accept": browser}
    )
    assert asked.json() == {"data": {"__typename": "Query"}}
    hashed = await http.get("/graphql", params={"extensions": "{}"}, headers={"Accept": browser})
    assert (hashed.status_code, hashed.json()) == (400, _error_body(NO_QUERY))
    json_only = await http.get("/graphql", headers={"Accept": "application/json"})
    assert (json_only.status_code, json_only.json()) == (400, _error_body(NO_QUERY))


async def test_without_graphiql_a_browser_is_told_what_is_missing(
    database_url: str, tmp_path: Path
) -> None:
    async with client_for(database_url, tmp_path, graphiql=False) as client:
        page = await client.get("/graphql", headers={"Accept": "text/html, */*;q=0.8"})
    assert (page.status_code, page.json()) == (400, _error_body(NO_QUERY))
