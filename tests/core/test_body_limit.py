"""Request bodies over the cap get a 413 before they are read whole; nothing runs.

The app is called as an ASGI server would, with a `receive` that counts what it hands
over: so the tests see how much of a body the app asked for, not only its answer.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from graphql_api.app import create_app
from graphql_api.core.settings import Settings
from graphql_api.state import AppState
from tests.core.test_http_conformance import MALLORY, REGISTER
from tests.support.databases import count_rows
from tests.support.links import upload
from tests.support.settings import settings_for_tests
from tests.support.users import SignedIn

MIB = 1024 * 1024
CAP = MIB  # the default GRAPHQL_API_MAX_BODY_BYTES
UPLOAD_CAP = 6 * MIB  # the default GRAPHQL_API_MAX_UPLOAD_BYTES
CHUNK = 64 * 1024


def register_body(size: int) -> bytes:
    """A valid `register` request for mallory, padded (an unused variable) to `size` bytes."""
    empty = orjson.dumps({"query": REGISTER, "variables": {"input": MALLORY, "pad": ""}})
    assert size >= len(empty)
    return orjson.dumps(
        {"query": REGISTER, "variables": {"input": MALLORY, "pad": "x" * (size - len(empty))}}
    )


class Exchange:
    """One HTTP request through the ASGI app: what it pulled of the body, what it sent."""

    def __init__(self, body: bytes, *, declare_length: bool) -> None:
        self.chunks: Iterator[bytes] = (body[i : i + CHUNK] for i in range(0, len(body), CHUNK))
        self.remaining = len(body)
        self.pulled = 0  # body bytes handed to the app
        self.messages: list[dict[str, Any]] = []
        headers = [(b"content-type", b"application/json"), (b"host", b"testserver")]
        if declare_length:
            headers.append((b"content-length", str(len(body)).encode()))
        self.scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/graphql",
            "raw_path": b"/graphql",
            "root_path": "",
            "query_string": b"",
            "headers": headers,
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }

    async def receive(self) -> dict[str, Any]:
        chunk = next(self.chunks, None)
        if chunk is None:
            return {"type": "http.disconnect"}
        self.pulled += len(chunk)
        self.remaining -= len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": self.remaining > 0}

    async def send(self, message: dict[str, Any]) -> None:
        self.messages.append(message)

    async def run(self, app: FastAPI) -> "Exchange":
        await app(self.scope, self.receive, self.send)  # type: ignore[arg-type]
        return self

    @property
    def status(self) -> int:
        status: int = self.messages[0]["status"]
        return status

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.messages[1:])


async def test_a_declared_10_mb_body_is_413_before_any_of_it_is_read(
    app: FastAPI, services: AppState
) -> None:
    exchange = await Exchange(register_body(10 * MIB), declare_length=True).run(app)
    assert exchange.status == 413
    assert exchange.pulled == 0
    assert f"limit of {CAP} bytes" in exchange.body.decode()
    assert await count_rows(services.engine, "users") == 0


async def test_a_chunked_10_mb_body_is_413_once_the_cap_is_passed(
    app: FastAPI, services: AppState
) -> None:
    exchange = await Exchange(register_body(10 * MIB), declare_length=False).run(app)
    assert exchange.status == 413
    # The cap and the chunk that crossed it; not one chunk more.
    assert exchange.pulled == CAP + CHUNK
    assert await count_rows(services.engine, "users") == 0


@pytest.mark.parametrize("declare_length", [True, False])
async def test_a_body_of_exactly_the_cap_goes_through(
    app: FastAPI, services: AppState, declare_length: bool
) -> None:
    exchange = await Exchange(register_body(CAP), declare_length=declare_length).run(app)
    assert exchange.status == 200, exchange.body
    assert orjson.loads(exchange.body)["data"]["register"]["userErrors"] == []
    assert await count_rows(services.engine, "users") == 1


@pytest.mark.parametrize("declare_length", [True, False])
async def test_one_byte_over_the_cap_is_413(
    app: FastAPI, services: AppState, declare_length: bool
) -> None:
    exchange = await Exchange(register_body(CAP + 1), declare_length=declare_length).run(app)
    assert exchange.status == 413
    assert await count_rows(services.engine, "users") == 0


async def test_uploads_have_their_own_bigger_cap(alice: SignedIn, services: AppState) -> None:
    # Over the JSON cap, under the upload cap: the import reads it and answers for itself.
    rows = b"https://example.com/a\n" * (2 * MIB // 22)
    response = await upload(alice, b"url\n" + rows)
    assert response.status_code == 200, response.text
    (error,) = response.json()["data"]["importShortUrls"]["userErrors"]
    assert error["code"] == "TOO_MANY"

    response = await upload(alice, b"url\n" + rows * 4)  # 8 MiB
    assert response.status_code == 413
    assert f"limit of {UPLOAD_CAP} bytes" in response.text
    assert await count_rows(services.engine, "short_urls") == 0


async def test_the_caps_come_from_the_settings(database_url: str, tmp_path: Path) -> None:
    small = create_app(
        settings_for_tests(database_url, tmp_path, max_body_bytes=2048, max_upload_bytes=4096)
    )
    transport = httpx.ASGITransport(app=small)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.post(
            "/graphql", content=register_body(2049), headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 413
        assert "limit of 2048 bytes" in response.text
        response = await client.post(
            "/graphql",
            headers={"GraphQL-Require-Preflight": "1"},
            data={"operations": "{}", "map": "{}"},
            files={"0": ("a.csv", b"x" * 4096, "text/csv")},
        )
        assert response.status_code == 413
        assert "limit of 4096 bytes" in response.text


@pytest.mark.parametrize("name", ["GRAPHQL_API_MAX_BODY_BYTES", "GRAPHQL_API_MAX_UPLOAD_BYTES"])
@pytest.mark.parametrize("value", ["0", "-1", "1023", "off"])
def test_the_caps_cannot_be_turned_off(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings()
