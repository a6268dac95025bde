"""What the benchmarks share: a scratch database and the servers' environment, servers that
live for a block, wrk runs, medians of rounds, and what /proc tells of a process."""

import os
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
WRK_THREADS = 2


@dataclass(frozen=True)
class Server:
    url: str
    pid: int


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def api_command(port: int, workers: int = 1) -> list[str]:
    """graphql_api as shipped: `graphql-api serve`, one worker, in the process it starts
    (or, with `workers` > 1, that many worker processes under it)."""
    command = [str(BIN / "graphql-api"), "serve", "--port", str(port), "--no-access-log"]
    return [*command, "--workers", str(workers)] if workers > 1 else command


def uvicorn_command(app: str, port: int) -> list[str]:
    """uvicorn serving `app` ("module:attribute") from this folder, one worker."""
    return [
        str(BIN / "uvicorn"),
        app,
        "--app-dir",
        str(HERE),
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
    ]


@contextmanager
def serve(command: list[str], env: dict[str, str], port: int, log: Path) -> Iterator[Server]:
    """Run `command` until the block ends; it is up once GET /livez answers."""
    with log.open("w") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/livez", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"server did not start:\n{log.read_text()}") from None
                time.sleep(0.1)
        yield Server(url, process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)


def server_env(database_url: str, work: Path, broker_url: str = "memory://") -> dict[str, str]:
    """The servers' environment: ours, less any GRAPHQL_API_* settings of the caller's."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("GRAPHQL_API_") and k not in ("DATABASE_URL", "BROKER_URL")
    }
    env.update(
        DATABASE_URL=database_url,
        BROKER_URL=broker_url,
        GRAPHQL_API_SECRET_FILE=str(work / "secret"),
        # Signing up is set-up, not what is measured: cheap hashes, long-lived tokens.
        GRAPHQL_API_ARGON2_MEMORY_KIB="1024",
        GRAPHQL_API_ARGON2_TIME_COST="1",
        GRAPHQL_API_ARGON2_PARALLELISM="1",
        GRAPHQL_API_ACCESS_TOKEN_MINUTES="1440",
        # Every subscriber the load generators open comes from this one address.
        GRAPHQL_API_WS_MAX_CONNECTIONS_PER_ADDRESS="100000",
    )
    return env


def migrate(env: dict[str, str]) -> None:
    subprocess.run([str(BIN / "graphql-api"), "migrate"], env=env, check=True, capture_output=True)


def database_kind(database_url: str) -> str:
    """The database's kind, "sqlite" or "postgresql", whatever driver the URL names."""
    return database_url.split(":", 1)[0].split("+", 1)[0]


def wrk(
    url: str,
    seconds: int,
    connections: int,
    script: Sequence[str] = (),
    headers: Iterable[str] = (),
    requests: int | None = None,
) -> dict[str, float]:
    """One wrk run (WRK_THREADS threads): requests/s, p50 and p99 latency, failures
    (answers other than 2xx or 3xx, and socket errors), and the requests answered.
    `script`: a Lua file and its arguments. With `requests`, the run ends after about that
    many answers (limit.lua), or after `seconds` if that comes first."""
    command = ["wrk", f"-t{WRK_THREADS}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for header in headers:
        command += ["-H", header]
    with tempfile.TemporaryDirectory(prefix="wrk-") as scratch:
        done = Path(scratch) / "done"
        done.touch()
        if requests:
            per_thread = str(-(-requests // WRK_THREADS))
            script = [str(HERE / "limit.lua"), per_thread, str(done), *script]
        command += ["-s", script[0], url, "--", *script[1:]] if script else [url]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        if requests:
            while process.poll() is None and done.read_text().count("\n") < WRK_THREADS:
                time.sleep(0.05)
            process.send_signal(signal.SIGINT)  # wrk stops, then reports as usual
        output = process.communicate()[0]
    if process.returncode:
        raise subprocess.CalledProcessError(process.returncode, command, output)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    answered = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    latency = {}
    for q in ("50", "99"):
        value, unit = re.search(rf"{q}%\s+([\d.]+)(us|ms|s)", output).groups()  # type: ignore[union-attr]
        latency[q] = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    failed = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return {
        "rps": rps,
        "p50_ms": latency["50"],
        "p99_ms": latency["99"],
        "errors": (int(failed.group(1)) if failed else 0)
        + (sum(int(g) for g in socket_errors.groups()) if socket_errors else 0),
        "requests": answered,
    }


def medians(
    runs: list[dict[str, Any]],
    median_keys: Sequence[str] = ("rps", "p50_ms", "p99_ms"),
    sum_keys: Sequence[str] = ("errors",),
) -> dict[str, Any]:
    """Several rounds in one: the median of each figure, the sum of each count of trouble."""
    summary: dict[str, Any] = {k: statistics.median(r[k] for r in runs) for k in median_keys}
    summary.update({k: sum(r[k] for r in runs) for k in sum_keys})
    return summary


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants (Linux /proc/PID/task/TID/children)."""
    pids, i = [pid], 0
    while i < len(pids):
        try:
            for task in Path(f"/proc/{pids[i]}/task").iterdir():
                pids += [int(c) for c in (task / "children").read_text().split()]
        except FileNotFoundError:  # gone meanwhile
            pass
        i += 1
    return pids


def tree_cpu_seconds(pid: int) -> float:
    """CPU time a process and its descendants now running have used so far: cpu_seconds()
    counts a process's own time only (a child's is added to cutime once it has exited and
    been waited for), so a server with worker processes needs this sum."""
    total = 0.0
    for p in process_tree(pid):
        with suppress(FileNotFoundError):  # gone meanwhile
            total += cpu_seconds(p)
    return total


def reaped_cpu_seconds(pid: int) -> float:
    """tree_cpu_seconds() plus the CPU time of the children the process has waited for:
    all of it, for a server such as PostgreSQL whose backends come and go."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return tree_cpu_seconds(pid) + (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


def postgres_pid(database_url: str) -> int | None:
    """The main process of the PostgreSQL server at `database_url` if it runs on this
    machine (a backend of it is a child of that process here), else None."""
    import asyncio

    import asyncpg

    def parent_of(pid: int) -> int | None:
        try:
            parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
            comms = [Path(f"/proc/{p}/comm").read_text().strip() for p in (pid, parent)]
        except (FileNotFoundError, PermissionError):
            return None
        return parent if all(c.startswith("postgres") for c in comms) else None

    async def server() -> int | None:
        dsn = database_url.replace("postgresql+asyncpg://", "postgresql://")
        conn = await asyncpg.connect(dsn, timeout=5)
        try:  # while the backend lives
            return parent_of(int(await conn.fetchval("SELECT pg_backend_pid()")))
        finally:
            await conn.close()

    return asyncio.run(server())


def machine_cpu_seconds() -> float:
    """CPU time all processes on the machine have used so far (Linux /proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def settle(pids: list[int]) -> None:
    """Wait (up to 10 s) until the processes are idle, e.g. done with the last disconnects."""
    for _ in range(100):
        before = [cpu_seconds(p) for p in pids]
        time.sleep(0.1)
        if all(cpu_seconds(p) - b < 0.01 for p, b in zip(pids, before, strict=True)):
            return


def rss_kib(pid: int) -> int:
    """A process's resident memory (VmRSS in /proc/PID/status), in KiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^VmRSS:\s+(\d+) kB$", status, re.MULTILINE).group(1))  # type: ignore[union-attr]


def listens_on(pid: int, port: int) -> bool:
    """Whether process `pid` itself holds the socket listening on 127.0.0.1:`port`."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, state, inode = fields[1], fields[3], fields[9]
        if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
            inodes.add(f"socket:[{inode}]")
    fds = Path(f"/proc/{pid}/fd")
    return any(os.readlink(fd) in inodes for fd in fds.iterdir())


def raise_fd_limit() -> int:
    """Lift the soft limit on open files to the hard one (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


@contextmanager
def scratch_database(server_url: str | None, work: Path) -> Iterator[str]:
    """A database of its own for one run: a SQLite file in `work`, or, given the URL of a
    PostgreSQL database, a new database on that server, dropped afterwards."""
    if server_url is None:
        yield f"sqlite:///{work / 'bench.db'}"
        return
    import asyncio
    import secrets

    import asyncpg

    dsn = server_url.replace("postgresql+asyncpg://", "postgresql://")
    name = f"graphql_api_bench_{secrets.token_hex(4)}"

    async def run(statement: str) -> None:
        conn = await asyncpg.connect(dsn, timeout=5)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{server_url.rpartition('/')[0]}/{name}"
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
