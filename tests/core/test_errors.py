"""What clients see of failures, and what the log keeps."""

import logging

import pytest

from graphql_api.items import service as items_service
from tests.support.client import GraphQLClient, error_codes


async def test_unexpected_error_is_masked_and_logged_with_request_id(
    anon_client: GraphQLClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("SELECT secret FROM vault -- password=hunter2")

    monkeypatch.setattr(items_service, "items_where", broken)
    with caplog.at_level(logging.ERROR, logger="graphql_api.errors"):
        response = await anon_client.http.post(
            "/graphql",
            json={"query": "{ items { nodes { id } } }"},
            headers={"X-Request-ID": "req-123"},
        )
    assert response.status_code == 200
    body = response.json()
    assert body["errors"] == [
        {
            "message": "Internal server error",
            "locations": [{"line": 1, "column": 3}],
            "path": ["items"],
            "extensions": {"code": "INTERNAL_SERVER_ERROR"},
        }
    ]
    assert "secret" not in response.text and "Traceback" not in response.text
    assert response.headers["X-Request-ID"] == "req-123"
    (record,) = caplog.records
    assert "req-123" in record.getMessage()
    assert record.exc_info is not None and "hunter2" in str(record.exc_info[1])


async def test_client_mistakes_are_readable_and_not_logged(
    anon_client: GraphQLClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        syntax = await anon_client.http.post("/graphql", json={"query": "{ items { "})
        unknown = await anon_client.http.post("/graphql", json={"query": "{ nope }"})
        bad_var = await anon_client.http.post(
            "/graphql",
            json={
                "query": "query($n: Int) { items(first: $n) { totalCount } }",
                "variables": {"n": "ten"},
            },
        )
    assert "Syntax Error" in syntax.json()["errors"][0]["message"]
    assert "Cannot query field 'nope'" in unknown.json()["errors"][0]["message"]
    assert "Int cannot represent" in bad_var.json()["errors"][0]["message"]
    assert caplog.records == []


async def test_request_id_is_made_when_missing_or_unsafe(anon_client: GraphQLClient) -> None:
    made = await anon_client.http.get("/livez")
    assert len(made.headers["X-Request-ID"]) == 32
    unsafe = await anon_client.http.get("/livez", headers={"X-Request-ID": "a\tb<script>"})
    assert unsafe.headers["X-Request-ID"] != "a\tb<script>"
    assert float(unsafe.headers["X-Process-Time"]) >= 0


async def test_get_cannot_run_a_mutation(anon_client: GraphQLClient) -> None:
    response = await anon_client.http.get(
        "/graphql", params={"query": 'mutation { logout(input: {refreshToken: "x"}) { ok } }'}
    )
    assert response.status_code in (400, 405)


async def test_permission_error_codes(anon_client: GraphQLClient) -> None:
    body = await anon_client.execute("{ users { totalCount } }")
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert body["errors"][0]["message"].startswith("Authentication required")
