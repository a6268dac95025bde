"""A storm of connection_inits against a live server whose read pool cannot keep up: each
socket is acknowledged or closed with 1013 ("try again later", which clients retry), never
dropped without a close code, and the log gets warnings, not tracebacks."""

import asyncio
import json
from pathlib import Path

import pytest
import websockets

from tests.support.databases import BACKENDS, server_database
from tests.support.server import cli_env, run_cli, running_server, server_log
from tests.support.users import sign_up_over_http

SOCKETS = 60


async def first_answer(url: str, token: str) -> str:
    """What one signed-in connection_init gets: "ack", or the close code and reason."""
    async with websockets.connect(
        url.replace("http", "ws") + "/graphql", subprotocols=["graphql-transport-ws"]
    ) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": {"authToken": token}}))
        try:
            async with asyncio.timeout(30):
                message = json.loads(await socket.recv())
        except websockets.ConnectionClosed:
            return f"{socket.close_code} {socket.close_reason}"
        return "ack" if message["type"] == "connection_ack" else str(message)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_inits_that_find_no_free_connection_are_told_to_retry(
    backend: str, tmp_path: Path
) -> None:
    async with server_database(backend, tmp_path) as database_url:
        env = cli_env(
            tmp_path,
            DATABASE_URL=database_url,
            # One connection and one overflow, and almost no patience: most inits of a
            # storm wait longer than this for one.
            GRAPHQL_API_DB_POOL_SIZE="1",
            GRAPHQL_API_DB_POOL_TIMEOUT_SECONDS="0.001",
            GRAPHQL_API_WS_MAX_CONNECTIONS_PER_ADDRESS=str(SOCKETS + 1),
        )
        assert run_cli("migrate", env=env, cwd=tmp_path).returncode == 0
        with running_server(env, tmp_path) as url:
            token = await sign_up_over_http(url, "alice")
            answers = await asyncio.gather(*(first_answer(url, token) for _ in range(SOCKETS)))
            busy = "1013 The server is busy: try again shortly."
            assert set(answers) <= {"ack", busy}, answers
            assert busy in answers
            # Once the storm is over, the same init is acknowledged.
            assert await first_answer(url, token) == "ack"
        log = server_log(tmp_path)
        assert "no database connection came free in time for a connection_init" in log
        assert "Traceback" not in log, log[-5000:]
