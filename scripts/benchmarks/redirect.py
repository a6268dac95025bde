"""Redirect benchmark: bare Starlette vs. graphql_api on one hot link and on 10,000 links.

Run through `scripts/bench-redirect`, or as part of `scripts/bench` (suite.py calls
seed() and measure()). Two servers, one worker each: bare_redirect.py under uvicorn, a
route answering every path with the same 302, and `graphql-api serve` on a database
seeded with one hot link and 10,000 others. wrk (with a browser's User-Agent, so that each
request counts as a click) asks the bare server, graphql_api for the hot link, and
graphql_api for random links of the 10,000 (spread.lua), in interleaved rounds (bare, hot,
spread, bare, ...) so that drift of the machine hits every case alike; the figures are
medians. Targets: hot / bare >= 0.50 (the redirect costs at most twice a bare route) and
hot / spread >= 0.90 (a link nobody asked for lately is nearly as fast as a hot one).
"""

import argparse
import asyncio
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from harness import (
    HERE,
    api_command,
    database_kind,
    free_port,
    medians,
    migrate,
    serve,
    server_env,
    uvicorn_command,
    wrk,
)
from sqlalchemy import insert

from graphql_api.core.db.engine import create_engine, create_sessionmaker
from graphql_api.core.settings import Settings
from graphql_api.links.models import ShortUrl
from graphql_api.users.models import User

CASES = ("bare", "hot", "spread")
LABELS = {
    "bare": "bare Starlette redirect",
    "hot": "graphql_api, one hot link",
    "spread": "graphql_api, 10,000 links",
}
TARGETS = {"hot_vs_bare": 0.50, "hot_vs_spread": 0.90}
SPREAD_LINKS = 10_000
CONNECTIONS = 64
LANDING = "https://example.com/landing-page"
USER_AGENT = (
    "User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)


async def seed(database_url: str) -> None:
    """A user owning the hot link and 10,000 others, written straight to the database."""
    engine = create_engine(Settings(database_url=database_url))
    async with create_sessionmaker(engine).begin() as session:
        user = User(username="links", email="links@example.com", password_hash="-")
        session.add(user)
        await session.flush()
        codes = ["hot", *(f"s{i:05d}" for i in range(SPREAD_LINKS))]
        await session.execute(
            insert(ShortUrl),
            [{"code": code, "target_url": LANDING, "owner_id": user.id} for code in codes],
        )
    await engine.dispose()


def spread_script() -> list[str]:
    """wrk's Lua script (and its argument) asking for random links of the 10,000."""
    return [str(HERE / "spread.lua"), str(SPREAD_LINKS)]


def every_link_script() -> list[str]:
    """wrk's Lua script (and its argument) walking each of the 10,000 links in turn, each
    thread in an order of its own (the soak: a round visits every link)."""
    return [str(HERE / "every.lua"), str(SPREAD_LINKS)]


def measure(
    env: dict[str, str], work: Path, seconds: int, rounds: int, connections: int = CONNECTIONS
) -> dict[str, Any]:
    """The three cases on the database that env names (seeded by seed()): for each, the
    median requests/s and p99 latency and the summed failures; and the two ratios."""
    bare_port, api_port = free_port(), free_port()
    runs: dict[str, list[dict[str, float]]] = {case: [] for case in CASES}
    with (
        serve(
            uvicorn_command("bare_redirect:app", bare_port), env, bare_port, work / "bare.log"
        ) as bare,
        serve(api_command(api_port), env, api_port, work / "api.log") as api,
    ):
        urls = {"bare": f"{bare.url}/any", "hot": f"{api.url}/hot", "spread": api.url}
        scripts = {"bare": [], "hot": [], "spread": spread_script()}
        for case in CASES:  # warm-up; the spread one fills the link cache
            wrk(urls[case], 3 if case == "spread" else 2, connections, scripts[case], [USER_AGENT])
        for round_ in range(1, rounds + 1):
            for case in CASES:
                runs[case].append(
                    wrk(urls[case], seconds, connections, scripts[case], [USER_AGENT])
                )
            print(
                f"redirect round {round_}: "
                + ", ".join(f"{case} {runs[case][-1]['rps']:,.0f}/s" for case in CASES),
                flush=True,
            )
    summary: dict[str, Any] = {case: medians(runs[case]) for case in CASES}
    summary.update(
        hot_vs_bare=summary["hot"]["rps"] / summary["bare"]["rps"],
        hot_vs_spread=summary["hot"]["rps"] / summary["spread"]["rps"],
        connections=connections,
        seconds=seconds,
        rounds=rounds,
        database=database_kind(env["DATABASE_URL"]),
    )
    return summary


def print_summary(summary: dict[str, Any]) -> None:
    print(f"\n{'redirect':<28}{'req/s':>12}{'p99 ms':>10}{'errors':>8}")
    for case in CASES:
        figures = summary[case]
        print(
            f"{LABELS[case]:<28}{figures['rps']:>12,.0f}{figures['p99_ms']:>10.2f}"
            f"{figures['errors']:>8}"
        )
    for ratio, target in TARGETS.items():
        value = summary[ratio]
        verdict = "met" if value >= target else "MISSED"
        print(
            f"{ratio.replace('_vs_', ' / '):<13}= {value:.3f}  (target >= {target:.2f}: {verdict})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    parser.add_argument("--seconds", type=int, default=10, help="length of each measurement")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=CONNECTIONS)
    parser.add_argument("--json", type=Path, default=Path("bench-redirect.json"))
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")

    work = Path(tempfile.mkdtemp(prefix="bench-redirect-"))
    env = server_env(args.database_url or f"sqlite:///{work / 'bench.db'}", work)
    migrate(env)
    asyncio.run(seed(env["DATABASE_URL"]))
    summary = measure(env, work, args.seconds, args.rounds, args.connections)
    print_summary(summary)
    args.json.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"written to {args.json}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
