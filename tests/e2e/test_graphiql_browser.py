"""GraphiQL in headless Chromium (Debian's `chromium`, driven by playwright-core), offline.

It signs up, runs documents pasted a moment before, types the token into the headers
editor, runs a mutation and a query, and receives a subscription event: every request
goes to graphql_api itself, none elsewhere.
The screenshot lands in test-artifacts/graphiql.png.
"""

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.support.node import node_script
from tests.support.server import cli_env, run_cli, running_server
from tests.support.users import sign_up_over_http

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
GRAPHIQL = Path(__file__).resolve().parents[2] / "graphiql"
CREATE_ROOM = 'mutation { createChatRoom(input: {name: "general"}) { userErrors { message } } }'


def chromium() -> str:
    found = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if found is None:
        pytest.skip("Debian's chromium is needed: apt-get install chromium")
    return found


def install_graphiql() -> None:
    """What the set-up does (scripts/_venv.sh, ensure_graphiql): npm ci in graphiql/."""
    installed = GRAPHIQL / "node_modules" / ".package-lock.json"
    if (
        installed.exists()
        and installed.stat().st_mtime > (GRAPHIQL / "package-lock.json").stat().st_mtime
    ):
        return
    npm = shutil.which("npm")
    assert npm is not None, "npm installs GraphiQL's files"
    subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=GRAPHIQL, check=True, timeout=300)


def test_graphiql_runs_queries_mutations_and_subscriptions_offline(tmp_path: Path) -> None:
    browser = chromium()
    command = node_script("graphiql.mjs")
    install_graphiql()
    env = cli_env(tmp_path)
    assert run_cli("migrate", env=env, cwd=tmp_path).returncode == 0
    with running_server(env, tmp_path) as url:
        host = asyncio.run(sign_up_over_http(url, "host"))
        made = httpx.post(
            f"{url}/graphql",
            json={"query": CREATE_ROOM},
            headers={"Authorization": f"Bearer {host}"},
        )
        assert made.json() == {"data": {"createChatRoom": {"userErrors": []}}}
        ARTIFACTS.mkdir(exist_ok=True)
        screenshot = ARTIFACTS / "graphiql.png"
        result = subprocess.run(
            [*command, url, str(screenshot)],
            env={**os.environ, "CHROMIUM": browser},
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    # Run right after a paste: the document pasted, not the tab's last operation (SignUp).
    assert report["pasted"] == [
        {"data": {"items": {"totalCount": 0}}},
        {"data": {"me": None}},
    ]
    assert report["outside"] == []  # nothing fetched from anywhere but graphql_api
    assert report["problems"] == []  # no script error, no refused resource (CSP)
    item = report["created"]["createItem"]
    assert item["userErrors"] == [] and item["item"]["owner"] == {"username": "ada"}
    assert [n["title"] for n in report["items"]["items"]["nodes"]] == ["Lamp"]
    event = report["event"]["data"]["chatEvents"]
    assert event["__typename"] == "MessageSent"
    assert event["message"]["text"] == "Hello from GraphiQL"
    assert event["message"]["author"] == {"username": "ada"}
    assert screenshot.stat().st_size > 10_000
