"""What each speed shortcut earns: server CPU per request with it and without it.

The rule (docs/performance.md): a shortcut stays only where it saves at least 10% on a
workload of `scripts/bench`. Each variant below turns one shortcut off for a fresh app,
in this process; the app is called as an ASGI application directly (16 requests at a
time, the benchmark's data on SQLite, or with `--database-url` on a scratch database of
that PostgreSQL server), and the CPU this process spends (every thread, aiosqlite's
included; not the database server's) is divided by the requests. Rounds interleave the
variants, so the machine's drift hits all alike; the figure is the median over rounds,
as a ratio to the shipped code measured in the same round.
"""

import argparse
import asyncio
import itertools
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import orjson
from harness import scratch_database
from workloads import WORKLOADS, Workload, seed

import graphql_api.app
from graphql_api.app import create_app
from graphql_api.core.db.migrate import upgrade_async
from graphql_api.core.db.records import Read
from graphql_api.core.graphql.engine.sql import SqlField
from graphql_api.core.http.fast_path import FastQueries
from graphql_api.core.settings import Settings

CONCURRENCY = 16
SIGN_UPS = itertools.count()


async def _through_sqlalchemy(self: Read, conn: Any, parameters: Any) -> list[Any]:
    return self.record.from_rows(await conn.execute(self.stmt, parameters))


async def _passed_on(self: FastQueries, scope: Any, receive: Any, send: Any) -> None:
    await self.app(scope, receive, send)


async def _left_to_the_plan(self: SqlField, run: Any) -> None:
    return None


# name: what turning it off patches (target, attribute, replacement), and what it does.
VARIANTS: dict[str, tuple[list[tuple[Any, str, Any]], str]] = {
    "shipped": ([], "as shipped"),
    "fast-path": ([(FastQueries, "__call__", _passed_on)], "no HTTP fast path"),
    "driver-reads": (
        [(Read, "all", _through_sqlalchemy)],
        "records read through SQLAlchemy",
    ),
    "sql-answers": (
        [(SqlField, "answer", _left_to_the_plan)],
        "no JSON built by PostgreSQL (PostgreSQL only)",
    ),
    "gc": ([(graphql_api.app, "GC_YOUNG_THRESHOLD", 700)], "collector at its default 700"),
}


@contextmanager
def turned_off(variant: str) -> Iterator[None]:
    with ExitStack() as stack:
        for target, name, replacement in VARIANTS[variant][0]:
            stack.enter_context(mock.patch.object(target, name, replacement))
        yield


async def call(app: Any, body: bytes, token: str | None) -> bytes:
    """One POST /graphql straight to the ASGI app; the response body."""
    headers = [(b"content-type", b"application/json"), (b"host", b"bench")]
    if token:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    chunks: list[bytes] = []
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.Event().wait()  # a disconnect never comes
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return b"".join(chunks)


async def register(app: Any) -> str:
    """A new user's access token (each app signs up one of its own)."""
    name = f"bench{next(SIGN_UPS)}"
    body = orjson.dumps(
        {
            "query": "mutation($i: RegisterInput!) { register(input: $i) { accessToken } }",
            "variables": {
                "i": {"username": name, "email": f"{name}@example.com", "password": "x" * 12}
            },
        }
    )
    return str(orjson.loads(await call(app, body, None))["data"]["register"]["accessToken"])


async def cpu_per_request(
    settings: Settings, variant: str, workloads: list[Workload], requests: int
) -> dict[str, tuple[float, bytes]]:
    """CPU ms per request of each workload, and one answer, for a fresh app of `variant`."""
    results = {}
    with turned_off(variant):
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            token = await register(app)
            for workload in workloads:
                body = workload.body()
                auth = token if workload.signed_in else None
                answer = await call(app, body, auth)
                for _ in range(2 * CONCURRENCY):  # warm: caches, plans, statements
                    await call(app, body, auth)
                start = time.process_time()
                for _ in range(requests // CONCURRENCY):
                    await asyncio.gather(*(call(app, body, auth) for _ in range(CONCURRENCY)))
                spent = time.process_time() - start
                results[workload.name] = (1000 * spent / requests, answer)
    return results


async def measure(
    database_url: str, variants: list[str], rounds: int, requests: int
) -> dict[str, dict[str, list[float]]]:
    """Per variant and workload: shipped CPU ms per request, the others' ratios to it."""
    # Reads only: a mutation's answers differ from request to request.
    workloads = [w for w in WORKLOADS if not w.writes]
    settings = Settings(
        database_url=database_url,
        secret_key="bench-" + "x" * 40,
        argon2_memory_kib=1024,
        argon2_time_cost=1,
        argon2_parallelism=1,
    )
    await upgrade_async(settings)
    await seed(settings.database_url)
    samples: dict[str, dict[str, list[float]]] = {v: {} for v in variants}
    for round_ in range(rounds):
        shipped: dict[str, tuple[float, bytes]] = {}
        for variant in variants:
            measured = await cpu_per_request(settings, variant, workloads, requests)
            shipped = shipped or measured
            for name, (ms, answer) in measured.items():
                if answer != shipped[name][1] and name != "me":
                    raise SystemExit(f"{variant} answered {name} differently: {answer!r}")
                samples[variant].setdefault(name, []).append(ms / shipped[name][0])
                if variant == "shipped":
                    samples[variant][name][-1] = ms
        print(f"round {round_ + 1} of {rounds} done", file=sys.stderr)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=800, help="per workload and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated")
    parser.add_argument(
        "--database-url", help="a PostgreSQL server to make a scratch database on (default: SQLite)"
    )
    args = parser.parse_args()
    variants = ["shipped", *(v for v in args.variants.split(",") if v != "shipped")]
    unknown = set(variants) - VARIANTS.keys()
    if unknown:
        raise SystemExit(f"unknown variants {sorted(unknown)}; known: {sorted(VARIANTS)}")
    workloads = [w for w in WORKLOADS if not w.writes]
    with (
        tempfile.TemporaryDirectory() as work,
        scratch_database(args.database_url, Path(work)) as database_url,
    ):
        samples = asyncio.run(measure(database_url, variants, args.rounds, args.requests))
    names = [w.name for w in workloads]
    print(f"{'':<14}" + "".join(f"{n:>9}" for n in names))
    for variant in variants:
        cells = "".join(f"{statistics.median(samples[variant][n]):>9.3f}" for n in names)
        unit = "ms of CPU per request" if variant == "shipped" else "times the shipped CPU"
        print(f"{variant:<14}{cells}  {VARIANTS[variant][1]} ({unit})")


if __name__ == "__main__":
    main()
