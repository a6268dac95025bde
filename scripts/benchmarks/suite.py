"""The benchmark suite: everything the performance work is judged by, side by side, in one run.

Run through `scripts/bench`. It makes a database of its own (a fresh SQLite file, or with
--database-url a new database on that PostgreSQL server, dropped afterwards), migrates and
seeds it (workloads.py), and then, every server with one worker and the load from other
processes on the same machine:

1. GraphQL over HTTP (workloads.py: two reads, `me` with a token, a mutation): wrk against
   - bare: bare_graphql.py, a Starlette route answering graphql_api's own answer bytes;
   - tutorial: tutorial_app.py, the same schema served with Strawberry's defaults;
   - graphql_api: `graphql-api serve`, as shipped;
   - on PostgreSQL, postgraphile: PostGraphile v5 over the same database, for the two
     reads (postgraphile.py; Node and PostGraphile from npm, installed on first use);
   in interleaved rounds (bare, tutorial, graphql_api, postgraphile, bare, ...) so that
   drift of the machine hits all alike, after checking that tutorial and graphql_api agree
   (and that PostGraphile gives the same rows in the same order), with each server's CPU
   time per request (its own process, not the database's).
2. Redirects (redirect.py), on the same database: bare vs. one hot link vs. 10,000 links;
   targets hot / bare >= 0.50 and hot / spread >= 0.90.
3. Chat fan-out (chat.py): messages to --fanout-sizes subscribers, bare WebSockets vs.
   graphql_api, checking that none is lost or duplicated.

Figures are medians of the rounds. Prints one table per benchmark, writes them all with the
machine's particulars to --json and draws them in --chart (chart.py). Exit status 1 if the
fan-out lost or duplicated a message.

`--soak` instead runs rounds of the same work against graphql_api alone and follows its
resident memory (soak.py); exit status 1 if it grows 5% or more from round 2 to the last.
"""

import argparse
import asyncio
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import tempfile
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import chart
import chat
import orjson
import postgraphile
import redirect
import soak
from harness import (
    api_command,
    database_kind,
    free_port,
    medians,
    migrate,
    postgres_pid,
    raise_fd_limit,
    reaped_cpu_seconds,
    scratch_database,
    serve,
    server_env,
    tree_cpu_seconds,
    uvicorn_command,
    wrk,
)
from workloads import WORKLOADS, answer, register, seed

SERVERS = ("bare", "tutorial", "graphql_api")
FIGURES = ("rps", "p50_ms", "p99_ms", "cpu_ms")  # medians of the rounds
PEER = "postgraphile"  # on PostgreSQL, for the workloads it has a document for


def check_answers(urls: dict[str, str], token: str) -> dict[str, str]:
    """graphql_api's answer to each workload, after checking the tutorial server agrees
    (and, on PostgreSQL, that PostGraphile gives the same rows in the same order)."""
    answers = {}
    for workload in WORKLOADS:
        ours = answer(urls["graphql_api"], workload, token)
        theirs = answer(urls["tutorial"], workload, token)
        if not workload.writes and ours != theirs:
            raise SystemExit(f"{workload.name}: the servers disagree:\n{ours}\n{theirs}")
        if PEER in urls and workload.name in postgraphile.QUERIES:
            peer = answer(urls[PEER], postgraphile.QUERIES[workload.name], token)
            postgraphile.check(workload.name, ours, peer)
        answers[workload.name] = orjson.dumps(ours).decode()
    return answers


def measured(
    url: str,
    pids: tuple[int, int | None],
    seconds: int,
    connections: int,
    script: list[str],
) -> dict[str, Any]:
    """One wrk run, with CPU time per request answered: of the server's process (and any
    children), and, given the pid of a PostgreSQL server on this machine, of all of that
    server's processes."""
    server, database = pids
    cpu = tree_cpu_seconds(server)
    db_cpu = reaped_cpu_seconds(database) if database else 0.0
    run: dict[str, Any] = wrk(url, seconds, connections, script)
    requests = max(run["requests"], 1)
    run["cpu_ms"] = (tree_cpu_seconds(server) - cpu) * 1000 / requests
    if database:
        run["db_cpu_ms"] = (reaped_cpu_seconds(database) - db_cpu) * 1000 / requests
    return run


def graphql_workloads(
    env: dict[str, str], work: Path, seconds: int, rounds: int, connections: int
) -> dict[str, dict[str, Any]]:
    """Per workload: its label, and per server the medians of requests/s, p50, p99 and CPU
    ms per request (on PostgreSQL with PostGraphile, for the workloads it answers)."""
    peer = database_kind(env["DATABASE_URL"]) == "postgresql"
    database = postgres_pid(env["DATABASE_URL"]) if peer else None
    everyone = (*SERVERS, PEER) if peer else SERVERS
    ports = {name: free_port() for name in everyone}
    runs: dict[str, dict[str, list[dict[str, float]]]] = {
        w.name: {s: [] for s in everyone} for w in WORKLOADS
    }
    with ExitStack() as servers:
        ours = servers.enter_context(
            serve(api_command(ports["graphql_api"]), env, ports["graphql_api"], work / "api.log")
        )
        tutorial = servers.enter_context(
            serve(
                uvicorn_command("tutorial_app:app", ports["tutorial"]),
                env,
                ports["tutorial"],
                work / "tutorial.log",
            )
        )
        token = register(ours.url)
        up = {"graphql_api": ours, "tutorial": tutorial}
        if peer:
            up[PEER] = servers.enter_context(
                serve(
                    postgraphile.command(),
                    postgraphile.environment(env, ports[PEER]),
                    ports[PEER],
                    work / "postgraphile.log",
                )
            )
        answers_file = work / "answers.json"
        answers = check_answers({name: s.url for name, s in up.items()}, token)
        answers_file.write_text(json.dumps(answers))
        bare_env = {**env, "BARE_ANSWERS": str(answers_file)}
        bare_cmd = uvicorn_command("bare_graphql:app", ports["bare"])
        up["bare"] = servers.enter_context(
            serve(bare_cmd, bare_env, ports["bare"], work / "bare.log")
        )
        for workload in WORKLOADS:
            script = workload.wrk_script(work, token)
            scripts = dict.fromkeys(SERVERS, script)
            targets = {
                "bare": f"{up['bare'].url}/graphql/{workload.name}",
                "tutorial": f"{tutorial.url}/graphql",
                "graphql_api": f"{ours.url}/graphql",
            }
            if peer and workload.name in postgraphile.QUERIES:
                (work / PEER).mkdir(exist_ok=True)  # its bodies, named like ours
                scripts[PEER] = postgraphile.QUERIES[workload.name].wrk_script(work / PEER, token)
                targets[PEER] = f"{up[PEER].url}/graphql"
            for server in targets:  # warm-up: imports, caches, connection pools, JIT
                wrk(targets[server], 1, connections, scripts[server])
            for round_ in range(1, rounds + 1):
                for server in targets:
                    run = measured(
                        targets[server],
                        (up[server].pid, database),
                        seconds,
                        connections,
                        scripts[server],
                    )
                    runs[workload.name][server].append(run)
                print(
                    f"{workload.name} round {round_}: "
                    + ", ".join(f"{s} {runs[workload.name][s][-1]['rps']:,.0f}/s" for s in targets),
                    flush=True,
                )
    # On SQLite, the figures as before; the database's CPU only if it runs on this machine.
    figures = (*FIGURES, *(["db_cpu_ms"] if database else [])) if peer else FIGURES[:-1]
    return {
        w.name: {"label": w.label}
        | {s: medians(runs[w.name][s], figures) for s in everyone if runs[w.name][s]}
        for w in WORKLOADS
    }


def print_graphql_table(results: dict[str, dict[str, Any]]) -> None:
    """One row per workload and server; on PostgreSQL also each row's ratio to PostGraphile
    (where it answered that workload), each server's CPU ms per request and, if PostgreSQL
    runs on this machine, its CPU ms per request of that server's load."""
    peer = any(PEER in figures for figures in results.values())
    database = any("db_cpu_ms" in figures["graphql_api"] for figures in results.values())
    print(
        f"\n{'GraphQL workload':<40}{'server':<13}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'errors':>8}{'vs tutorial':>13}{'vs bare':>9}"
        + (f"{'vs PostGraphile':>17}{'CPU ms/req':>12}" if peer else "")
        + (f"{'DB ms/req':>11}" if database else "")
    )
    for figures in results.values():
        for server in (*SERVERS, PEER) if peer else SERVERS:
            if server not in figures:
                continue
            f = figures[server]
            extra = ""
            if peer:
                versus = f"{f['rps'] / figures[PEER]['rps']:.2f}" if PEER in figures else "-"
                extra = f"{versus:>17}{f['cpu_ms']:>12.2f}"
            if database:
                extra += f"{f['db_cpu_ms']:>11.2f}"
            print(
                f"{figures['label'] if server == 'bare' else '':<40}{server:<13}{f['rps']:>9,.0f}"
                f"{f['p50_ms']:>9.1f}{f['p99_ms']:>9.1f}{f['errors']:>8}"
                f"{f['rps'] / figures['tutorial']['rps']:>13.2f}"
                f"{f['rps'] / figures['bare']['rps']:>9.2f}" + extra
            )


def database_version(database_url: str) -> str:
    if database_kind(database_url) == "sqlite":
        return sqlite3.sqlite_version
    import asyncpg

    async def version() -> str:
        dsn = database_url.replace("postgresql+asyncpg://", "postgresql://")
        conn = await asyncpg.connect(dsn, timeout=5)
        try:
            return str(await conn.fetchval("SHOW server_version"))
        finally:
            await conn.close()

    return asyncio.run(version())


def machine_info(database_url: str) -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next(
        (line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if "model name" in line),
        platform.processor(),
    )
    wrk_version = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "database": database_kind(database_url),
        "database_version": database_version(database_url),
        "wrk": " ".join(wrk_version.split()[:2]),
    }


def prepare(database_url: str, work: Path) -> dict[str, str]:
    """The servers' environment, on a migrated database with the workloads' data."""
    env = server_env(database_url, work)
    migrate(env)
    asyncio.run(seed(database_url))
    return env


def write(results: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {path}")


def run_soak(args: argparse.Namespace, database_url: str, work: Path) -> dict[str, Any]:
    env = prepare(database_url, work)
    asyncio.run(redirect.seed(database_url))
    return soak.run(
        env,
        work,
        args.soak_rounds,
        args.soak_scale,
        args.connections,
        args.soak_subscriptions,
        args.soak_cycles,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server to make a scratch database on (default: a fresh SQLite file)",
    )
    parser.add_argument("--seconds", type=int, default=5, help="length of each measurement")
    parser.add_argument("--rounds", type=int, default=3, help="of GraphQL and redirects")
    parser.add_argument(
        "--connections", type=int, default=32, help="wrk's for GraphQL (redirects: 64)"
    )
    parser.add_argument("--fanout-sizes", default="10,100,1000", help="subscribers, e.g. 10,100")
    parser.add_argument("--fanout-rounds", type=int, default=1)
    parser.add_argument("--json", type=Path, help="default: bench.json (bench-soak.json)")
    parser.add_argument("--chart", type=Path, default=Path("bench.png"))
    parser.add_argument("--soak", action="store_true", help="the memory soak instead")
    parser.add_argument("--soak-rounds", type=int, default=5)
    parser.add_argument(
        "--soak-scale", type=float, default=1.0, help="times the requests of a round (soak.py)"
    )
    parser.add_argument("--soak-subscriptions", type=int, default=200, help="per cycle")
    parser.add_argument("--soak-cycles", type=int, default=5, help="per round")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk drives the load: install it with `apt-get install wrk`.")
    if args.soak and args.soak_rounds < 3:
        raise SystemExit("--soak-rounds: at least 3 (growth is measured from round 2 on)")
    json_path = args.json or Path("bench-soak.json" if args.soak else "bench.json")
    fanout_sizes = [int(n) for n in args.fanout_sizes.split(",")]
    raise_fd_limit()
    if args.database_url and database_kind(args.database_url) == "postgresql" and not args.soak:
        postgraphile.ensure_installed()

    work = Path(tempfile.mkdtemp(prefix="bench-"))
    with scratch_database(args.database_url, work) as database_url:
        machine = machine_info(database_url)
        if args.soak:
            report = run_soak(args, database_url, work)
        else:
            env = prepare(database_url, work)
            graphql = graphql_workloads(env, work, args.seconds, args.rounds, args.connections)
            asyncio.run(redirect.seed(database_url))
            redirects = redirect.measure(env, work, args.seconds, args.rounds)
            fanout = chat.measure(env, work, fanout_sizes, args.fanout_rounds)
    shutil.rmtree(work, ignore_errors=True)

    if args.soak:
        soak.print_report(report)
        write({"machine": machine, "soak": report}, json_path)
        if report["growth_percent"] >= report["growth_limit_percent"] or report["missed"]:
            raise SystemExit("FAILED: memory grew, or subscribers missed their message")
        return
    print_graphql_table(graphql)
    redirect.print_summary(redirects)
    chat.print_table(fanout)
    results = {
        "machine": machine,
        "settings": {
            "seconds": args.seconds,
            "rounds": args.rounds,
            "connections": args.connections,
            "fanout_rounds": args.fanout_rounds,
        },
        "graphql": graphql,
        "redirect": redirects,
        "fanout": fanout,
    }
    write(results, json_path)
    chart.draw(results, args.chart)
    print(f"chart in {args.chart}")
    if any(fanout["trouble"].values()):
        raise SystemExit(f"FAILED: the fan-out lost or duplicated messages: {fanout['trouble']}")


if __name__ == "__main__":
    main()
