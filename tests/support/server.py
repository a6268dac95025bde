"""The `graphql-api` command and a live server in a subprocess, as a user would run them."""

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support.redis import REDIS_URL, redis_reachable
from tests.support.settings import GENEROUS_RATE_LIMITS
from tests.support.wait import wait_until

CLI = str(Path(sys.executable).parent / "graphql-api")


def cli_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("GRAPHQL_API_") and k not in ("DATABASE_URL", "BROKER_URL")
    }
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'cli.db'}",
        GRAPHQL_API_SECRET_FILE=str(tmp_path / "secret"),
        GRAPHQL_API_ARGON2_MEMORY_KIB="1024",
        GRAPHQL_API_ARGON2_TIME_COST="1",
        GRAPHQL_API_ARGON2_PARALLELISM="1",
    )
    env.update({f"GRAPHQL_API_{k.upper()}": v for k, v in GENEROUS_RATE_LIMITS.items()})
    env.update(extra)
    return env


async def workers_env(tmp_path: Path, database_url: str) -> dict[str, str]:
    """The environment of worker processes sharing a migrated database and Redis (a key
    prefix of their own, so that runs sharing the server do not hear each other)."""
    await redis_reachable()
    env = cli_env(
        tmp_path,
        DATABASE_URL=database_url,
        BROKER_URL=REDIS_URL,
        GRAPHQL_API_REDIS_PREFIX=f"test-{uuid.uuid4().hex}:",
    )
    assert run_cli("migrate", env=env, cwd=tmp_path).returncode == 0
    return env


def run_cli(
    *args: str,
    env: dict[str, str],
    cwd: Path,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args],
        env=env,
        cwd=cwd,
        input=input,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    """A `graphql-api serve` subprocess that answers on `url`; its output goes to `log_path`."""

    process: subprocess.Popen[bytes]
    url: str
    log_path: Path
    startup_seconds: float  # from spawning the process to its first healthy /livez

    def stop(self) -> None:
        """SIGTERM: a graceful shutdown, lifespan hooks included."""
        self.process.terminate()
        self.process.wait(timeout=15)

    def kill(self) -> None:
        """SIGKILL: nothing of the server runs any more, as after a crash or an OOM kill."""
        self.process.kill()
        self.process.wait(timeout=15)


def start_server(env: dict[str, str], cwd: Path, *args: str) -> ServerProcess:
    """Start `graphql-api serve` on a free port and wait until /livez answers."""
    port = free_port()
    log_path = cwd / f"server-{port}.log"
    started = time.monotonic()
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [CLI, "serve", "--port", str(port), *args],
            env=env,
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: process.poll() is not None or answers(f"{url}/livez"),
            within=30,
            interval=0.05,
            what=lambda: f"server did not start:\n{log_path.read_text()}",
        )
        if process.poll() is not None:
            raise RuntimeError(f"server exited at start:\n{log_path.read_text()}")
    except BaseException:
        process.kill()
        process.wait(timeout=15)
        raise
    return ServerProcess(process, url, log_path, time.monotonic() - started)


@contextmanager
def running_server(env: dict[str, str], cwd: Path, *args: str) -> Iterator[str]:
    """`graphql-api serve` on a free port; yields its base URL, stops it gracefully."""
    server = start_server(env, cwd, *args)
    try:
        yield server.url
    finally:
        server.stop()


def server_log(cwd: Path) -> str:
    """The output of every server started in `cwd`."""
    return "".join(p.read_text() for p in sorted(cwd.glob("server-*.log")))


def answers(url: str) -> bool:
    """Whether a GET of `url` answers 200 (a server that is not up yet does not)."""
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def open_subscriptions(url: str, field: str) -> float:
    """How many `field` subscriptions the live server at `url` runs (its /metrics)."""
    text = httpx.get(f"{url}/metrics", headers={"Connection": "close"}).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "graphql_api_active_subscriptions" and sample.labels == {"field": field}
    )
