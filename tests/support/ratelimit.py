"""An app of its own with the rate limits a test sets, clients at chosen addresses."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from graphql_api.app import create_app
from tests.support.settings import TEST_PASSWORD, settings_for_tests
from tests.support.users import REGISTER

LOGIN = """
mutation Login($input: LoginInput!) {
  login(input: $input) { accessToken userErrors { code } }
}
"""


@asynccontextmanager
async def limited_app(
    database_url: str, tmp_path: Path, **overrides: Any
) -> AsyncIterator[FastAPI]:
    """A running app on the test database; every limit generous unless `overrides` sets it.

    Its own app, not the session's: the session app's counts outlive a test.
    """
    app = create_app(settings_for_tests(database_url, tmp_path, **overrides))
    async with app.router.lifespan_context(app):
        yield app


@asynccontextmanager
async def client_at(app: FastAPI, address: str = "127.0.0.1") -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client whose requests come from `address`, as uvicorn would report it."""
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def login(http: httpx.AsyncClient, name: str, password: str) -> httpx.Response:
    return await http.post(
        "/graphql",
        json={"query": LOGIN, "variables": {"input": {"login": name, "password": password}}},
    )


async def register(http: httpx.AsyncClient, username: str) -> httpx.Response:
    new = {"email": f"{username}@example.com", "username": username, "password": TEST_PASSWORD}
    return await http.post("/graphql", json={"query": REGISTER, "variables": {"input": new}})


def login_outcome(response: httpx.Response) -> str:
    """SIGNED_IN, a userError code, or the top-level error code."""
    body = response.json()
    if "errors" in body:
        return str(body["errors"][0]["extensions"]["code"])
    payload = body["data"]["login"]
    if payload["userErrors"]:
        return str(payload["userErrors"][0]["code"])
    assert payload["accessToken"]
    return "SIGNED_IN"


def assert_rate_limited(response: httpx.Response) -> int:
    """A GraphQL RATE_LIMITED answer with a matching Retry-After header; its seconds."""
    assert response.status_code == 200, response.text
    body = response.json()
    (error,) = body["errors"]
    assert body["data"] is None
    assert error["extensions"]["code"] == "RATE_LIMITED", error
    retry_after = error["extensions"]["retryAfter"]
    assert isinstance(retry_after, int) and retry_after >= 1
    assert response.headers["retry-after"] == str(retry_after)
    assert f"Try again in {retry_after} seconds." in error["message"]
    return retry_after
