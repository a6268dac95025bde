"""Registered documents shared across processes through the real Redis
(`core.graphql.documents.persisted`).

Two apps on one Redis stand for two workers. Between one of them and Redis runs a TCP
relay of the test's own, which counts what passes and can cut the line: Redis down,
for that worker alone, without touching the server the other tests use.
"""

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio

from graphql_api.core.graphql.documents.persisted import REDIS_PAUSE_SECONDS
from graphql_api.state import AppState
from tests.support.persisted import COUNT, NOT_FOUND, fresh, post_hash, sha256
from tests.support.ratelimit import client_at, limited_app
from tests.support.redis import REDIS_URL, Relay

TTL = 600


@pytest.fixture
async def relay() -> AsyncIterator[Relay]:
    relay = Relay(REDIS_URL)
    yield relay
    await relay.close()


async def test_a_document_registered_in_one_worker_runs_by_hash_in_another(
    database_url: str,
    services: AppState,
    tmp_path: Path,
    redis_prefix: str,
) -> None:
    shared = {
        "broker_url": REDIS_URL,
        "redis_prefix": redis_prefix,
        "persisted_queries_ttl_seconds": TTL,
    }
    async with (
        limited_app(database_url, tmp_path, **shared) as first_app,
        limited_app(database_url, tmp_path, **shared) as second_app,
        client_at(first_app) as first,
        client_at(second_app) as second,
    ):
        query = fresh(COUNT)
        assert (await post_hash(second, query)).json()["errors"] == [NOT_FOUND]
        await post_hash(first, query, send_query=True)
        assert (await post_hash(second, query)).json() == {"data": {"items": {"totalCount": 0}}}
        # A mismatch registers nothing anywhere.
        other = fresh(COUNT)
        await first.post("/graphql", json={"query": fresh(COUNT), "extensions": post_body(other)})
        assert (await post_hash(second, other)).json()["errors"] == [NOT_FOUND]
    client = redis.asyncio.from_url(REDIS_URL)
    try:
        key = f"{redis_prefix}apq:{sha256(query)}"
        assert (await client.get(key)) == query.encode()
        assert 0 < await client.ttl(key) <= TTL
        assert await client.exists(f"{redis_prefix}apq:{sha256(other)}") == 0
    finally:
        await client.aclose()


def post_body(query: str) -> dict[str, object]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha256(query)}}


async def test_a_known_document_costs_no_redis_round_trip_and_survives_redis_going_down(
    database_url: str,
    services: AppState,
    tmp_path: Path,
    redis_prefix: str,
    relay: Relay,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = await relay.start()
    async with (
        limited_app(database_url, tmp_path, broker_url=REDIS_URL, redis_prefix=redis_prefix) as a,
        limited_app(database_url, tmp_path, broker_url=url, redis_prefix=redis_prefix) as b,
        client_at(a) as first,
        client_at(b) as second,
    ):
        known, elsewhere = fresh(COUNT), fresh(COUNT)
        await post_hash(first, known, send_query=True)
        await post_hash(first, elsewhere, send_query=True)
        assert "errors" not in (await post_hash(second, known)).json()  # fetched once
        carried = relay.bytes
        for _ in range(3):
            assert "errors" not in (await post_hash(second, known)).json()
        assert relay.bytes == carried, "a document this worker knows needs no Redis"

        relay.cut()
        with caplog.at_level(logging.WARNING, logger="graphql_api.persisted"):
            # Only Redis knew it: not found, and the client sends its document, which runs.
            assert (await post_hash(second, elsewhere)).json()["errors"] == [NOT_FOUND]
            ran = await post_hash(second, elsewhere, send_query=True)
            assert ran.json() == {"data": {"items": {"totalCount": 0}}}
            attempts = relay.connections
            # Kept by this worker; Redis rests, so no request waits on it meanwhile.
            assert "errors" not in (await post_hash(second, elsewhere)).json()
            assert "errors" not in (await post_hash(second, known)).json()
            new = fresh(COUNT)
            assert (await post_hash(second, new)).json()["errors"] == [NOT_FOUND]
            assert relay.connections == attempts
        warnings = [r for r in caplog.records if r.name == "graphql_api.persisted"]
        assert len(warnings) == 1, [r.getMessage() for r in warnings]
        assert f"for {REDIS_PAUSE_SECONDS:.0f} s" in warnings[0].getMessage()
