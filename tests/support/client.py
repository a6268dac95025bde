"""GraphQL over HTTP for tests: a client of an app in process, and calls to a live server."""

from typing import Any

import httpx
from fastapi import FastAPI

from graphql_api.core.http.fast_path import FastQueries


class GraphQLClient:
    """Posts operations to /graphql as a real client would, optionally with a token."""

    def __init__(self, http: httpx.AsyncClient, token: str | None = None) -> None:
        self.http = http
        self.token = token

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, **headers: str
    ) -> httpx.Response:
        if self.token:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        return await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )

    async def execute(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The whole response body (data and errors)."""
        response = await self.post(query, variables)
        assert response.headers["content-type"].startswith("application/json"), response.text
        body: dict[str, Any] = response.json()
        return body

    async def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The data of a response that must have no errors: fails loudly otherwise."""
        body = await self.execute(query, variables)
        assert "errors" not in body, body["errors"]
        data: dict[str, Any] = body["data"]
        return data

    async def mutate(self, query: str, input: dict[str, Any]) -> dict[str, Any]:
        """The one payload of a mutation that must succeed (no errors, no userErrors)."""
        data = await self.data(query, {"input": input})
        (payload,) = data.values()
        assert payload["userErrors"] == [], payload["userErrors"]
        return payload  # type: ignore[no-any-return]


async def post(
    http: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None, **headers: str
) -> httpx.Response:
    """The response to `query` posted to /graphql, as a client with no token sends it."""
    return await GraphQLClient(http).post(query, variables, **headers)


def error_codes(body: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors", [])]


async def gql(
    url: str, token: str | None, query: str, variables: dict[str, Any] | None = None
) -> Any:
    """The only root field's value of a query or mutation sent to the live server at `url`
    (no errors allowed)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(base_url=url, headers=headers) as client:
        body = (await client.post("/graphql", json={"query": query, "variables": variables})).json()
    assert "errors" not in body, body
    (payload,) = body["data"].values()
    return payload


def fast_path_of(app: FastAPI) -> FastQueries:
    """An app's fast path, to count what it answered."""
    if app.middleware_stack is None:  # built by the first request otherwise
        app.middleware_stack = app.build_middleware_stack()
    layer: Any = app.middleware_stack
    while not isinstance(layer, FastQueries):
        layer = layer.app
    return layer
