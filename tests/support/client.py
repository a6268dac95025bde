"""GraphQL over HTTP for tests: a client of an app in process, and calls to a live server."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from graphql_api.app import create_app
from graphql_api.core.http.fast_path import FastQueries
from tests.support.settings import settings_for_tests


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


@asynccontextmanager
async def client_for(
    database_url: str, tmp_path: Path, **overrides: object
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app of its own, on the test database, with settings `overrides`."""
    app = create_app(settings_for_tests(database_url, tmp_path, **overrides))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


class AsgiWebSocket:
    """A WebSocket client speaking ASGI to the app, in this event loop (graphql-transport-ws
    unless told another subprotocol)."""

    def __init__(self, app: FastAPI, subprotocol: str = "graphql-transport-ws") -> None:
        self.app = app
        self.subprotocol = subprotocol
        self.incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.outgoing: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def open(self) -> None:
        scope = {
            "type": "websocket",
            "asgi": {"version": "3.0"},
            "path": "/graphql",
            "raw_path": b"/graphql",
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"test"), (b"sec-websocket-protocol", self.subprotocol.encode())],
            "subprotocols": [self.subprotocol],
            "client": ("127.0.0.1", 1234),
            "server": ("test", 80),
        }
        await self.incoming.put({"type": "websocket.connect"})
        self.task = asyncio.create_task(self.app(scope, self.incoming.get, self.outgoing.put))
        assert (await self.outgoing.get())["type"] == "websocket.accept"

    async def send(self, message: dict[str, Any]) -> None:
        await self.incoming.put(
            {"type": "websocket.receive", "text": orjson.dumps(message).decode()}
        )

    async def receive(self) -> dict[str, Any]:
        async with asyncio.timeout(5):
            message = await self.outgoing.get()
        assert message["type"] == "websocket.send", message
        return orjson.loads(message["text"])  # type: ignore[no-any-return]

    async def close(self) -> None:
        await self.incoming.put({"type": "websocket.disconnect", "code": 1000})
        async with asyncio.timeout(5):
            await self.task


async def metrics(http: httpx.AsyncClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def grew(before: dict, after: dict, name: str, **labels: str) -> float:  # type: ignore[type-arg]
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)
