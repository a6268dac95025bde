"""Node.js clients for the end-to-end tests: the scripts in tests/e2e/node, their npm packages."""

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.server import cli_env, run_cli, running_server

NODE_DIR = Path(__file__).parents[1] / "e2e" / "node"


def node_script(name: str) -> list[str]:
    """The command that runs `node/<name>`, its npm packages installed by `npm ci` if stale.

    Skips the test without Node.js and npm; fails it if `npm ci` fails.
    """
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip(f"Node.js with npm is needed to run {name} (tests/e2e/node)")
    installed = NODE_DIR / "node_modules" / ".package-lock.json"
    lock = NODE_DIR / "package-lock.json"
    # npm ci rewrites node_modules/.package-lock.json: once newer than the lock, it is done.
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        result = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=NODE_DIR,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if result.returncode != 0:
            pytest.fail(f"npm ci failed in {NODE_DIR}:\n{result.stdout}\n{result.stderr}")
    return [node, str(NODE_DIR / name)]


def run_against_a_server(
    name: str, tmp_path: Path, *, timeout: float, **env_extra: str
) -> subprocess.CompletedProcess[str]:
    """`node/<name> URL/graphql` against a server of its own (migrated SQLite, development
    unless `env_extra` says otherwise)."""
    command = node_script(name)
    env = cli_env(tmp_path, **env_extra)
    assert run_cli("migrate", env=env, cwd=tmp_path).returncode == 0
    with running_server(env, tmp_path) as url:
        return subprocess.run(
            [*command, f"{url}/graphql"],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
