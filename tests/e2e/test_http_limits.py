"""Oversized bodies against a real `graphql-api serve`: a 413, early, and the server goes on."""

import asyncio
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support.server import cli_env, run_cli, running_server, server_log

MIB = 1024 * 1024
TEN_MB = 10 * MIB
CHUNK = 64 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A development server on SQLite; its URL and its log file's folder. No test made it
    fail: once stopped, everything it had to say is in its log."""
    tmp = tmp_path_factory.mktemp("limits")
    env = cli_env(tmp)
    assert run_cli("migrate", env=env, cwd=tmp).returncode == 0
    with running_server(env, tmp) as url:
        yield url, tmp
    log = server_log(tmp)
    assert "Exception in ASGI application" not in log and "Traceback" not in log, log[-5000:]


async def test_a_10_mb_body_is_413_and_the_connection_stays_usable(
    server: tuple[str, Path],
) -> None:
    url, tmp = server
    body = b'{"query": "{ __typename }", "pad": "' + b"x" * TEN_MB + b'"}'
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        response = await client.post(
            "/graphql", content=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 413
        assert response.text == f"The request body is larger than the limit of {MIB} bytes."
        again = await client.post("/graphql", json={"query": "{ __typename }"})
        assert again.json() == {"data": {"__typename": "Query"}}
    assert "Traceback" not in server_log(tmp)


async def test_a_chunked_body_is_answered_413_before_it_is_all_sent(
    server: tuple[str, Path],
) -> None:
    url, tmp = server
    address = urlsplit(url)
    reader, writer = await asyncio.open_connection(address.hostname, address.port)
    writer.write(
        b"POST /graphql HTTP/1.1\r\n"
        b"Host: " + address.netloc.encode() + b"\r\n"
        b"Content-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    response_head = asyncio.create_task(reader.readuntil(b"\r\n\r\n"))
    piece = b"x" * CHUNK
    sent = 0
    try:
        # Paced, so that the answer can arrive before the end if the server stops early.
        while sent < TEN_MB and not response_head.done():
            writer.write(b"%x\r\n%b\r\n" % (len(piece), piece))
            await writer.drain()
            sent += len(piece)
            # A duration, not a wait: a client sending slowly, so that the answer can come
            # before the end (the loop ends as soon as it does).
            await asyncio.sleep(0.005)
        if not response_head.done():
            writer.write(b"0\r\n\r\n")
        head = await asyncio.wait_for(response_head, 30)
    finally:
        writer.close()
    assert head.startswith(b"HTTP/1.1 413 "), head
    assert sent < TEN_MB, "the 413 came only after the whole body was sent"
    async with httpx.AsyncClient(base_url=url) as client:
        assert (await client.get("/livez")).status_code == 200
    assert "Traceback" not in server_log(tmp)


async def test_a_client_that_leaves_mid_body_is_no_server_error(
    server: tuple[str, Path],
) -> None:
    url, tmp = server
    parts = urlsplit(url)
    _, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(
        b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 5000\r\n\r\n" + b'{"query": "' + b"x" * 100
    )
    await writer.drain()
    writer.close()  # gone, 4,900 bytes short
    await writer.wait_closed()
    async with httpx.AsyncClient(base_url=url) as client:
        assert (await client.get("/livez")).status_code == 200
    # What the server logs of it, if anything, may come later: the fixture reads the log
    # again once the server has stopped.
    assert "Exception in ASGI application" not in server_log(tmp)
