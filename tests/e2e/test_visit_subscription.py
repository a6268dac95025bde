"""shortUrlVisits over a real WebSocket (graphql-transport-ws) against a running server."""

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
import websockets

from tests.support.links import BROWSER, shorten_over_http
from tests.support.server import cli_env, open_subscriptions, run_cli, running_server
from tests.support.users import sign_up_over_http
from tests.support.wait import eventually

SUBSCRIBE = """subscription($code: String!) {
  shortUrlVisits(code: $code) { id visitedAt referrer browser device isBot } }"""


async def subscribe(url: str, token: str | None, code: str) -> Any:
    """An open graphql-transport-ws connection with the subscription started."""
    socket = await websockets.connect(
        url.replace("http", "ws") + "/graphql", subprotocols=["graphql-transport-ws"]
    )
    payload = {"Authorization": f"Bearer {token}"} if token else {}
    await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
    assert json.loads(await socket.recv())["type"] == "connection_ack"
    await socket.send(
        json.dumps(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": SUBSCRIBE, "variables": {"code": code}},
            }
        )
    )
    return socket


async def test_owner_sees_a_visit_within_a_second(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    assert run_cli("migrate", env=env, cwd=tmp_path).returncode == 0
    with running_server(env, tmp_path) as url:
        token = await sign_up_over_http(url, "owner")
        async with httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {token}"}
        ) as owner:
            code = await shorten_over_http(owner)
        socket = await subscribe(url, token, code)
        async with socket:
            await eventually(  # the subscription is registered
                lambda: open_subscriptions(url, "shortUrlVisits"), lambda n: n == 1
            )
            started = time.monotonic()
            async with httpx.AsyncClient(base_url=url) as browser:
                redirect = await browser.get(
                    f"/{code}", headers={"User-Agent": BROWSER, "Referer": "https://ref.example/"}
                )
            assert redirect.status_code == 302
            message = json.loads(await asyncio.wait_for(socket.recv(), timeout=1))
            elapsed = time.monotonic() - started
        assert message["type"] == "next", message
        visit = message["payload"]["data"]["shortUrlVisits"]
        assert (visit["referrer"], visit["browser"], visit["device"], visit["isBot"]) == (
            "https://ref.example/",
            "Chrome",
            "desktop",
            False,
        )
        assert elapsed < 1


async def test_others_cannot_watch_a_link(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    assert run_cli("migrate", env=env, cwd=tmp_path).returncode == 0
    with running_server(env, tmp_path) as url:
        owner_token = await sign_up_over_http(url, "owner")
        async with httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {owner_token}"}
        ) as owner:
            code = await shorten_over_http(owner)
        other_token = await sign_up_over_http(url, "other")
        for token, expected in ((other_token, "FORBIDDEN"), (None, "UNAUTHENTICATED")):
            socket = await subscribe(url, token, code)
            async with socket:
                message = json.loads(await asyncio.wait_for(socket.recv(), timeout=2))
            assert message["type"] in ("error", "next"), message
            errors = (
                message["payload"] if message["type"] == "error" else (message["payload"]["errors"])
            )
            assert [e["extensions"]["code"] for e in errors] == [expected]
