"""Persisted documents against live servers: Apollo's own link, workers sharing Redis, and
a trusted-only server made with the README's commands."""

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import websockets

from tests.support.node import run_against_a_server
from tests.support.persisted import sha256
from tests.support.redis import REDIS_URL
from tests.support.server import cli_env, run_cli, running_server

NODE_SECONDS = 60
WS_SECONDS = 5
NOT_FOUND = ["PERSISTED_QUERY_NOT_FOUND"]
OPERATIONS = """
query Count { items { totalCount } }
query Me { me { username } }
"""


def requests_of(step: dict[str, Any]) -> list[tuple[str, bool, int, list[str]]]:
    return [(r["method"], r["sentQuery"], r["status"], r["codes"]) for r in step["requests"]]


def test_apollos_persisted_queries_link_by_post_and_by_get(tmp_path: Path) -> None:
    run = run_against_a_server("apq.mjs", tmp_path, timeout=NODE_SECONDS)
    assert run.returncode == 0, f"the Apollo client failed:\n{run.stderr}"
    report = json.loads(run.stdout)
    for mode in ("POST", "GET"):
        first, again, other, mutation = report[mode]
        assert [step["error"] for step in report[mode]] == [None] * 4, report[mode]
        for step in (first, again, other):
            assert step["data"]["items"]["totalCount"] == 0
        assert mutation["data"]["register"]["user"]["username"] == f"apq_{mode.lower()}"
        # The hash alone; "not found" (400: Apollo asks for graphql-response+json); then the
        # document with its hash, always by POST. From then on the hash alone runs it, for
        # this client and for any other.
        assert requests_of(first) == [(mode, False, 400, NOT_FOUND), ("POST", True, 200, [])]
        assert requests_of(again) == requests_of(other) == [(mode, False, 200, [])]
        # Mutations are never sent by GET.
        assert requests_of(mutation) == [
            ("POST", False, 400, NOT_FOUND),
            ("POST", True, 200, []),
        ]
    # What a CDN caches: a URL without the document, short whatever the document's size.
    assert report["GET"][1]["requests"][0]["urlLength"] < 400


async def test_a_document_registered_with_one_process_runs_by_hash_in_another(
    tmp_path: Path,
    server_database_url: str,
    redis_prefix: str,
) -> None:
    query = "query Shared { items { totalCount } }"
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": sha256(query)}}
    params = {"extensions": json.dumps(extensions)}
    env = cli_env(
        tmp_path,
        DATABASE_URL=server_database_url,
        BROKER_URL=REDIS_URL,
        GRAPHQL_API_REDIS_PREFIX=redis_prefix,
    )
    assert run_cli("migrate", env=env, cwd=tmp_path).returncode == 0
    # Two servers, not `--workers 2`: which worker takes a connection is the kernel's choice.
    with running_server(env, tmp_path) as one, running_server(env, tmp_path) as other:
        async with (
            httpx.AsyncClient(base_url=one) as first,
            httpx.AsyncClient(base_url=other) as second,
        ):
            unknown = await second.get("/graphql", params=params)
            assert unknown.json()["errors"][0]["message"] == "PersistedQueryNotFound"
            registered = await first.post(
                "/graphql", json={"query": query, "extensions": extensions}
            )
            assert registered.json() == {"data": {"items": {"totalCount": 0}}}
            for client in (second, first):
                answer = await client.get("/graphql", params=params)
                assert answer.json() == {"data": {"items": {"totalCount": 0}}}


async def test_a_trusted_only_server_runs_its_manifest_over_http_and_websocket(
    tmp_path: Path,
) -> None:
    (tmp_path / "operations.graphql").write_text(OPERATIONS)
    env = cli_env(tmp_path)
    made = run_cli(
        "trusted-manifest", "operations.graphql", "--output", "manifest.json", env=env, cwd=tmp_path
    )
    assert made.returncode == 0, made.stderr
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    ids = {operation["name"]: operation["id"] for operation in manifest["operations"]}
    bodies = {operation["name"]: operation["body"] for operation in manifest["operations"]}
    env.update(
        GRAPHQL_API_TRUSTED_DOCUMENTS="manifest.json", GRAPHQL_API_TRUSTED_DOCUMENTS_ONLY="true"
    )
    assert run_cli("migrate", env=env, cwd=tmp_path).returncode == 0
    with running_server(env, tmp_path) as url:
        async with httpx.AsyncClient(base_url=url) as client:
            by_id = {"persistedQuery": {"version": 1, "sha256Hash": ids["Count"]}}
            got = await client.get("/graphql", params={"extensions": json.dumps(by_id)})
            assert got.json() == {"data": {"items": {"totalCount": 0}}}
            other = await client.post("/graphql", json={"query": "{ items { totalCount } }"})
            assert other.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_IN_LIST"
        async with websockets.connect(
            url.replace("http", "ws") + "/graphql", subprotocols=["graphql-transport-ws"]
        ) as socket:
            await socket.send(json.dumps({"type": "connection_init"}))
            assert json.loads(await socket.recv())["type"] == "connection_ack"
            for n, query in enumerate((bodies["Me"], "{ me { username } }")):
                message = {"id": str(n), "type": "subscribe", "payload": {"query": query}}
                await socket.send(json.dumps(message))
            first: dict[str, Any] = {}  # each operation's first message (then "complete")
            while len(first) < 2:
                message = json.loads(await asyncio.wait_for(socket.recv(), WS_SECONDS))
                if "id" in message:  # not a keep-alive ping
                    first.setdefault(message["id"], message)
    trusted, refused = first["0"], first["1"]
    assert trusted["type"] == "next" and trusted["payload"] == {"data": {"me": None}}
    assert refused["type"] == "error"
    assert refused["payload"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_IN_LIST"


def test_a_manifest_that_cannot_be_used_stops_serve_with_a_message(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text('{"abc": 1}')
    env = cli_env(
        tmp_path,
        GRAPHQL_API_TRUSTED_DOCUMENTS="manifest.json",
        GRAPHQL_API_TRUSTED_DOCUMENTS_ONLY="true",
    )
    result = run_cli("serve", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert "GRAPHQL_API_TRUSTED_DOCUMENTS manifest.json the entry 'abc' is not a document" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr
    made = run_cli("trusted-manifest", "missing.graphql", env=env, cwd=tmp_path)
    assert made.returncode == 1
    assert "cannot read the operations" in made.stderr and "Traceback" not in made.stderr
