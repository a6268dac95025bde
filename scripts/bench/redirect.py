"""Redirect benchmark: bare Starlette vs. graphql_api on one hot link and on 10,000 links.

Run through `scripts/bench-redirect`. Rounds are interleaved (bare, hot, spread, bare,
...) so that drift of the machine hits every case alike; the figures are medians.
"""

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from harness import free_port, serve
from sqlalchemy import insert

from graphql_api.core.db import create_engine, create_sessionmaker
from graphql_api.core.settings import Settings
from graphql_api.links.models import ShortUrl
from graphql_api.users.models import User

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
SPREAD_LINKS = 10_000
LANDING = "https://example.com/landing-page"
USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)


async def seed(database_url: str) -> None:
    """One user, a hot link and 10,000 others, written straight to the database."""
    engine = create_engine(Settings(database_url=database_url))
    async with create_sessionmaker(engine).begin() as session:
        user = User(username="bench", email="bench@example.com", password_hash="-")
        session.add(user)
        await session.flush()
        codes = ["hot", *(f"s{i:05d}" for i in range(SPREAD_LINKS))]
        await session.execute(
            insert(ShortUrl),
            [{"code": code, "target_url": LANDING, "owner_id": user.id} for code in codes],
        )
    await engine.dispose()


def wrk(
    url: str, seconds: int, connections: int, script: list[str] | None = None
) -> dict[str, float]:
    command = [
        "wrk",
        "-t2",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "-H",
        f"User-Agent: {USER_AGENT}",
    ]
    if script:
        command += ["-s", script[0], url, "--", *script[1:]]
    else:
        command.append(url)
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p99_value, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", output).groups()  # type: ignore[union-attr]
    p99_ms = float(p99_value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    non_3xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {"rps": rps, "p99_ms": p99_ms, "errors": int(non_3xx.group(1)) if non_3xx else 0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    parser.add_argument("--seconds", type=int, default=10, help="length of each measurement")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--json", type=Path, default=Path("bench-redirect.json"))
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")

    work = Path(tempfile.mkdtemp(prefix="bench-redirect-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRAPHQL_API_")}
    env.update(
        DATABASE_URL=args.database_url or f"sqlite:///{work / 'bench.db'}",
        GRAPHQL_API_SECRET_FILE=str(work / "secret"),
    )
    subprocess.run([str(BIN / "graphql-api"), "migrate"], env=env, check=True, capture_output=True)
    asyncio.run(seed(env["DATABASE_URL"]))

    bare_port, api_port = free_port(), free_port()
    bare_cmd = [
        str(BIN / "uvicorn"),
        "bare_redirect:app",
        "--app-dir",
        str(HERE),
        "--port",
        str(bare_port),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    api_cmd = [str(BIN / "graphql-api"), "serve", "--port", str(api_port), "--no-access-log"]
    results: dict[str, list[dict[str, float]]] = {"bare": [], "hot": [], "spread": []}
    with (
        serve(bare_cmd, env, bare_port, work / "bare.log") as bare,
        serve(api_cmd, env, api_port, work / "api.log") as api,
    ):
        lua = str(HERE / "spread.lua")
        for warm_up in (f"{api.url}/hot", f"{bare.url}/x"):
            wrk(warm_up, 2, args.connections)
        wrk(api.url, 3, args.connections, [lua, str(SPREAD_LINKS)])  # fills the link cache
        for round_ in range(1, args.rounds + 1):
            results["bare"].append(wrk(f"{bare.url}/any", args.seconds, args.connections))
            results["hot"].append(wrk(f"{api.url}/hot", args.seconds, args.connections))
            results["spread"].append(
                wrk(api.url, args.seconds, args.connections, [lua, str(SPREAD_LINKS)])
            )
            print(
                f"round {round_}: "
                + ", ".join(f"{k} {v[-1]['rps']:.0f}/s" for k, v in results.items()),
                flush=True,
            )

    summary: dict[str, Any] = {}
    for name, runs in results.items():
        summary[name] = {
            "rps": statistics.median(r["rps"] for r in runs),
            "p99_ms": statistics.median(r["p99_ms"] for r in runs),
            "errors": sum(r["errors"] for r in runs),
        }
    hot_vs_bare = summary["hot"]["rps"] / summary["bare"]["rps"]
    hot_vs_spread = summary["hot"]["rps"] / summary["spread"]["rps"]
    print(f"\n{'case':<28}{'requests/s':>12}{'p99 ms':>10}{'non-3xx':>10}")
    labels = {
        "bare": "bare Starlette redirect",
        "hot": "graphql_api, one hot link",
        "spread": f"graphql_api, {SPREAD_LINKS:,} links",
    }
    for name, figures in summary.items():
        print(
            f"{labels[name]:<28}{figures['rps']:>12.0f}{figures['p99_ms']:>10.2f}"
            f"{figures['errors']:>10}"
        )
    print(f"\nhot / bare   = {hot_vs_bare:.2f}  (target >= 0.50)")
    print(f"hot / spread = {hot_vs_spread:.2f}  (target >= 0.90)")
    summary.update(
        hot_vs_bare=hot_vs_bare,
        hot_vs_spread=hot_vs_spread,
        connections=args.connections,
        seconds=args.seconds,
        rounds=args.rounds,
        database=env["DATABASE_URL"].split(":")[0],
    )
    args.json.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"written to {args.json}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
