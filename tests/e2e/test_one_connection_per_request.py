"""A live server with a small pool: many lists on one level never stall it (issue 15).

Each of 21 aliased lists used to take a pool connection of its own; on PostgreSQL three
such requests held the whole pool, waited 30 s for more, and failed with a 500, while
every other client's reads waited too.
"""

import asyncio
import time
from pathlib import Path

import httpx

from tests.support.server import cli_env, run_cli, running_server
from tests.support.users import sign_up_over_http

ALIASES = "{ " + " ".join(f"a{n}: items(first: 1) {{ nodes {{ id }} }}" for n in range(21)) + " }"
CREATE = 'mutation { createItem(input: {title: "t", price: "1.00"}) { item { id } } }'


async def test_wide_requests_and_a_small_one_all_answer_at_once(
    tmp_path: Path, server_database_url: str
) -> None:
    env = cli_env(tmp_path, DATABASE_URL=server_database_url, GRAPHQL_API_DB_POOL_SIZE="2")
    assert run_cli("migrate", env=env, cwd=tmp_path).returncode == 0
    with running_server(env, tmp_path) as url:
        token = await sign_up_over_http(url, "ann")
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            headers = {"Authorization": f"Bearer {token}"}
            for _ in range(3):
                await client.post("/graphql", json={"query": CREATE}, headers=headers)

            async def ask(query: str) -> float:
                started = time.monotonic()
                response = await client.post("/graphql", json={"query": query})
                assert response.status_code == 200, response.text
                assert "errors" not in response.json(), response.text
                return time.monotonic() - started

            took = await asyncio.gather(
                *(ask(ALIASES) for _ in range(6)), ask("{ items(first: 1) { totalCount } }")
            )
    assert max(took) < 5, took
