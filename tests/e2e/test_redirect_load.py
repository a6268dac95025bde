"""1,000 concurrent redirects over real HTTP against a running server: exact counts."""

import asyncio
from collections import Counter
from pathlib import Path

import httpx

from tests.support.links import (
    BROWSER,
    VISIT_COUNT,
    owner_client,
    settled_counts,
    shorten_over_http,
)
from tests.support.server import cli_env, run_cli, running_server

REQUESTS = 1000


async def hammer(url: str, code: str) -> Counter[int]:
    limits = httpx.Limits(max_connections=REQUESTS, max_keepalive_connections=REQUESTS)
    async with httpx.AsyncClient(
        base_url=url, limits=limits, timeout=60, headers={"User-Agent": BROWSER}
    ) as client:
        responses = await asyncio.gather(*(client.get(f"/{code}") for _ in range(REQUESTS)))
    return Counter(r.status_code for r in responses)


async def test_concurrent_redirects_are_counted_exactly(
    tmp_path: Path, server_database_url: str
) -> None:
    env = cli_env(tmp_path, DATABASE_URL=server_database_url)
    assert run_cli("migrate", env=env, cwd=tmp_path).returncode == 0
    with running_server(env, tmp_path) as url:
        client = await owner_client(url)
        async with client:
            hot = await shorten_over_http(client)
            assert await hammer(url, hot) == {302: REQUESTS}
            assert await settled_counts(client, hot, REQUESTS) == (REQUESTS, REQUESTS)

            capped = await shorten_over_http(client, maxVisits=50)
            assert await hammer(url, capped) == {302: 50, 410: REQUESTS - 50}
            assert await settled_counts(client, capped, 50) == (50, 50)


async def test_graceful_stop_writes_every_buffered_visit(
    tmp_path: Path, server_database_url: str
) -> None:
    # A flush interval, and room in the buffer, beyond the test: only the shutdown can
    # write the visits.
    env = cli_env(
        tmp_path,
        DATABASE_URL=server_database_url,
        GRAPHQL_API_VISIT_FLUSH_SECONDS="60",
        GRAPHQL_API_VISIT_BUFFER=str(10 * REQUESTS),
    )
    assert run_cli("migrate", env=env, cwd=tmp_path).returncode == 0
    with running_server(env, tmp_path) as url:
        client = await owner_client(url)
        async with client:
            code = await shorten_over_http(client)
            assert await hammer(url, code) == {302: REQUESTS}
            response = await client.post(
                "/graphql", json={"query": VISIT_COUNT, "variables": {"c": code}}
            )
            assert response.json()["data"]["shortUrl"]["visitCount"] == 0  # still buffered
    # running_server sent SIGTERM and waited; a new server reads what reached the database.
    with running_server(env, tmp_path) as url:
        async with httpx.AsyncClient(base_url=url) as anon:
            response = await anon.post(
                "/graphql", json={"query": VISIT_COUNT, "variables": {"c": code}}
            )
    assert response.json()["data"]["shortUrl"]["visitCount"] == REQUESTS
