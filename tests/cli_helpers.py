"""Running the `graphql-api` command and a live server as a user would."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

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
    env.update(extra)
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


@contextmanager
def running_server(env: dict[str, str], cwd: Path, *args: str) -> Iterator[str]:
    """`graphql-api serve` on a free port; yields its base URL, stops it gracefully."""
    port = free_port()
    log_path = cwd / f"server-{port}.log"
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
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/livez", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start:\n{log_path.read_text()}")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=15)


REGISTER = "mutation($input: RegisterInput!) { register(input: $input) { accessToken } }"


async def sign_up_over_http(url: str, name: str) -> str:
    """Register `name` with the running server; its access token."""
    async with httpx.AsyncClient(base_url=url) as client:
        response = await client.post(
            "/graphql",
            json={
                "query": REGISTER,
                "variables": {
                    "input": {
                        "email": f"{name}@example.com",
                        "username": name,
                        "password": "long enough pw",
                    }
                },
            },
        )
    return response.json()["data"]["register"]["accessToken"]  # type: ignore[no-any-return]
