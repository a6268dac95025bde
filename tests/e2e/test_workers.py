"""Several worker processes sharing PostgreSQL or SQLite and Redis."""

import asyncio
import platform
from collections import Counter
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from graphql_api.core.metrics import FLUSH_SECONDS
from tests.support.chat import CREATE_ROOM, ChatSocket, joined, send, sent
from tests.support.client import gql
from tests.support.links import BROWSER, SET_ACTIVE, owner_client, settled_counts, shorten_over_http
from tests.support.redis import REDIS_URL, redis_reachable
from tests.support.server import cli_env, run_cli, running_server, start_server, workers_env
from tests.support.users import sign_up_over_http
from tests.support.wait import eventually


def statuses(url: str, code: str, times: int) -> Counter[int]:
    """Each request on a new connection, so that the workers share them."""
    return Counter(
        httpx.get(
            f"{url}/{code}", headers={"User-Agent": BROWSER, "Connection": "close"}
        ).status_code
        for _ in range(times)
    )


async def test_a_disabled_link_stops_in_every_worker(
    tmp_path: Path, server_database_url: str
) -> None:
    await redis_reachable()
    env = cli_env(tmp_path, DATABASE_URL=server_database_url, BROKER_URL=REDIS_URL)
    assert run_cli("migrate", env=env, cwd=tmp_path).returncode == 0
    with running_server(env, tmp_path, "--workers", "2") as url:
        client = await owner_client(url)
        async with client:
            code = await shorten_over_http(client)
            assert statuses(url, code, 40) == {302: 40}  # cached in both workers now
            response = await client.post(
                "/graphql",
                json={"query": SET_ACTIVE, "variables": {"input": {"code": code, "active": False}}},
            )
            assert response.json()["data"]["setShortUrlActive"]["userErrors"] == []
            assert statuses(url, code, 40) == {410: 40}


async def test_a_capped_link_is_exact_across_workers(
    tmp_path: Path, server_database_url: str
) -> None:
    await redis_reachable()
    env = cli_env(tmp_path, DATABASE_URL=server_database_url, BROKER_URL=REDIS_URL)
    assert run_cli("migrate", env=env, cwd=tmp_path).returncode == 0
    with running_server(env, tmp_path, "--workers", "2") as url:
        client = await owner_client(url)
        async with client:
            code = await shorten_over_http(client, maxVisits=50)
            # Concurrent, each on a connection of its own: both workers reserve at once.
            headers = {"User-Agent": BROWSER, "Connection": "close"}
            async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as anon:
                responses = await asyncio.gather(*(anon.get(f"/{code}") for _ in range(200)))
            assert Counter(r.status_code for r in responses) == {302: 50, 410: 150}
            assert await settled_counts(client, code, 50) == (50, 50)


async def test_chat_reaches_listeners_on_every_worker(
    tmp_path: Path, postgres_server_url: str
) -> None:
    env = await workers_env(tmp_path, postgres_server_url)
    with running_server(env, tmp_path, "--workers", "2") as url:
        alice = await sign_up_over_http(url, "alice")
        await gql(url, alice, CREATE_ROOM)
        listeners = []
        for n in range(6):  # the kernel spreads the connections over the workers
            socket = await ChatSocket.connect(
                url, await sign_up_over_http(url, f"listener{n}"), "graphql-transport-ws"
            )
            await socket.subscribe()
            while await socket.receive() != joined(f"listener{n}"):
                pass
            listeners.append(socket)
        hello = await send(url, alice, "hello, everyone")
        for socket in listeners:
            while (event := await socket.receive())["__typename"] != "MessageSent":
                pass
            assert event == sent(hello, "hello, everyone", "alice")
            await socket.close()


def redirects_counted(url: str, status: str) -> set[float]:
    """graphql_api_redirects_total{status} as several /metrics answers give it."""
    seen = set()
    for _ in range(10):  # new connections: some land on each worker
        text = httpx.get(f"{url}/metrics", headers={"Connection": "close"}).text
        seen.update(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "graphql_api_redirects_total" and sample.labels == {"status": status}
        )
    return seen


async def test_metrics_sum_every_worker(tmp_path: Path) -> None:
    await redis_reachable()
    env = cli_env(tmp_path, BROKER_URL=REDIS_URL)
    assert run_cli("migrate", env=env, cwd=tmp_path).returncode == 0
    with running_server(env, tmp_path, "--workers", "2") as url:
        client = await owner_client(url)
        async with client:
            code = await shorten_over_http(client)
        assert statuses(url, code, 30) == {302: 30}  # on new connections: both workers answer
        await eventually(  # each worker adds its redirects every FLUSH_SECONDS
            lambda: redirects_counted(url, "302"),
            lambda counted: counted == {30.0},  # every answer, whoever gave it
            within=FLUSH_SECONDS + 10,
            interval=0.2,
            what="every worker's redirects in /metrics",
        )


def environments_of_children(pid: int) -> list[list[bytes]]:
    """The environment each child process of `pid` started with (/proc/PID/stat, environ)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append((stat.parent / "environ").read_bytes().split(b"\0"))
        except (FileNotFoundError, ProcessLookupError):
            continue  # gone meanwhile
    return found


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc arenas are glibc's")
async def test_workers_start_with_two_malloc_arenas(tmp_path: Path) -> None:
    await redis_reachable()
    env = cli_env(tmp_path, BROKER_URL=REDIS_URL)
    env.pop("MALLOC_ARENA_MAX", None)  # an operator's own value would win
    assert run_cli("migrate", env=env, cwd=tmp_path).returncode == 0
    server = start_server(env, tmp_path, "--workers", "2")
    try:
        workers = environments_of_children(server.process.pid)
    finally:
        server.stop()
    assert len(workers) >= 2
    assert all(b"MALLOC_ARENA_MAX=2" in environment for environment in workers)
