import os
import platform
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
import typer.main

from graphql_api.cli import app
from tests.support.server import cli_env, run_cli

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "schema.graphql"


def test_migrate_then_create_admin(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    migrated = run_cli("migrate", env=env, cwd=tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    assert (tmp_path / "cli.db").exists()
    created = run_cli(
        "create-user",
        "--email",
        "root@example.com",
        "--username",
        "root",
        "--password",
        "a long password",
        "--admin",
        env=env,
        cwd=tmp_path,
    )
    assert created.returncode == 0, created.stderr
    assert "Created admin root" in created.stdout


def test_create_user_with_bad_or_duplicate_input_fails_clearly(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    run_cli("migrate", env=env, cwd=tmp_path)
    args = ["create-user", "--email", "a@example.com", "--username", "ann"]
    assert run_cli(*args, "--password", "a long password", env=env, cwd=tmp_path).returncode == 0
    duplicate = run_cli(*args, "--password", "a long password", env=env, cwd=tmp_path)
    assert duplicate.returncode == 1
    assert "already taken" in duplicate.stderr
    assert "Traceback" not in duplicate.stderr
    short = run_cli(
        "create-user",
        "--email",
        "b@example.com",
        "--username",
        "bo",
        "--password",
        "short",
        env=env,
        cwd=tmp_path,
    )
    assert short.returncode == 1
    assert "at least 3" in short.stderr and "at least 8" in short.stderr


def migration_head(text: str) -> str:
    """A migration file up to its first function: docstring, imports, revision ids."""
    return text.split("\n\n\ndef ", 1)[0]


def test_new_migration_writes_the_next_file_like_the_committed_ones(tmp_path: Path) -> None:
    """In a copy of the package (nothing is written into the checkout), with two columns
    added to a model: the next number, the committed files' layout, ruff-clean, one head."""
    from alembic.script import ScriptDirectory

    from graphql_api.core.db.migrate import MIGRATIONS

    shutil.copytree(
        MIGRATIONS.parent, tmp_path / "graphql_api", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(MIGRATIONS.parents[1] / "pyproject.toml", tmp_path)  # ruff's settings
    models = tmp_path / "graphql_api" / "items" / "models.py"
    tax = "    tax: Mapped[Decimal | None] = mapped_column(Money(), default=None)\n"
    added = (
        "    deposit: Mapped[Decimal | None] = mapped_column(Money(), default=None)\n"
        "    note: Mapped[str | None] = mapped_column(Text, default=None)\n"
    )
    assert tax in models.read_text()
    models.write_text(models.read_text().replace(tax, tax + added))
    versions = tmp_path / "graphql_api" / "migrations" / "versions"
    committed = sorted(p.name for p in versions.glob("0*.py"))
    env = cli_env(tmp_path, PYTHONPATH=str(tmp_path))
    assert run_cli("migrate", env=env, cwd=tmp_path).returncode == 0

    previous = committed[-1][:4]
    for message, slug in (
        ("deposits and notes on items", "deposits_and_notes_on_items"),
        ("Nothing, yet!", "nothing_yet"),
    ):
        revision = f"{int(previous) + 1:04d}"
        written = run_cli("new-migration", message, env=env, cwd=tmp_path)
        assert written.returncode == 0, written.stderr
        assert "Warning" not in written.stderr, written.stderr
        (name,) = {p.name for p in versions.glob("0*.py")} - set(committed)
        assert name == f"{revision}_{slug}.py"
        committed.append(name)
        path = versions / name
        text = path.read_text()

        # The header of a committed file, with this one's message, numbers and date.
        plain = next(versions.glob("0003_*.py")).read_text()
        date = text.split("Create Date: ", 1)[1].split("\n", 1)[0]
        assert len(date) == len("2026-12-02") and date.count("-") == 2, date
        like = migration_head(plain).replace("chat rooms and messages", message)
        like = like.replace("0003", revision).replace("0002", previous)
        like = like.replace(plain.split("Create Date: ", 1)[1].split("\n", 1)[0], date)
        if "deposit" in message:
            like = like.replace(
                "from alembic import op\n",
                "from alembic import op\n\nimport graphql_api.core.db.base\n",
            )
            assert 'sa.Column("deposit", graphql_api.core.db.base.Money(), nullable=True)' in text
            assert 'sa.Column("note", sa.Text(), nullable=True)' in text
        else:  # no change: no unused imports, nothing to do either way
            like = like.replace("\nimport sqlalchemy as sa\nfrom alembic import op\n", "")
            assert text.count("    pass\n") == 2
        assert migration_head(text) == like
        assert "###" not in text  # autogenerate's markers
        for check in (["check"], ["format", "--check"]):
            ruff = subprocess.run(
                [sys.executable, "-m", "ruff", *check, str(path)],
                cwd=tmp_path,
                capture_output=True,
                text=True,
                check=False,
            )
            assert ruff.returncode == 0, ruff.stdout + ruff.stderr

        assert ScriptDirectory(str(versions.parent)).get_heads() == [revision]
        migrated = run_cli("migrate", env=env, cwd=tmp_path)
        assert migrated.returncode == 0, migrated.stderr
        previous = revision

    assert sorted(p.name for p in (MIGRATIONS / "versions").glob("0*.py")) == committed[:-2]


def test_bad_configuration_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    env = cli_env(tmp_path, GRAPHQL_API_ENV="production")
    result = run_cli("migrate", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert "GRAPHQL_API_SECRET_KEY must be set" in result.stderr
    assert "Traceback" not in result.stderr


def test_export_schema_matches_the_committed_file(tmp_path: Path) -> None:
    out = tmp_path / "schema.graphql"
    result = run_cli("export-schema", "--output", str(out), env=cli_env(tmp_path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert out.read_text() == SCHEMA_FILE.read_text()
    printed = run_cli("export-schema", env=cli_env(tmp_path), cwd=tmp_path)
    assert printed.stdout == SCHEMA_FILE.read_text()


def test_several_workers_need_a_shared_broker(tmp_path: Path) -> None:
    result = run_cli("serve", "--workers", "2", env=cli_env(tmp_path), cwd=tmp_path)
    assert result.returncode == 1
    assert "BROKER_URL=redis://" in result.stderr


def test_seed_makes_demo_data_once_per_prefix(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    assert run_cli("migrate", env=env, cwd=tmp_path).returncode == 0
    seeded = run_cli("seed", "--users", "3", "--items", "2", "--links", "1", env=env, cwd=tmp_path)
    assert seeded.returncode == 0, seeded.stderr
    assert "Made 3 users (demo1 to demo3" in seeded.stdout
    assert "Seeding users" in seeded.stderr  # the progress bar
    counts = sqlite_counts(tmp_path / "cli.db", "users", "items", "short_urls", "chat_rooms")
    assert counts == {"users": 3, "items": 6, "short_urls": 3, "chat_rooms": 1}

    again = run_cli("seed", "--users", "3", env=env, cwd=tmp_path)
    assert again.returncode == 1
    assert "demo1 exists already" in again.stderr and "Traceback" not in again.stderr
    assert sqlite_counts(tmp_path / "cli.db", "users") == {"users": 3}


def test_seed_is_refused_in_production(tmp_path: Path) -> None:
    env = cli_env(tmp_path, GRAPHQL_API_ENV="production", GRAPHQL_API_SECRET_KEY="s" * 64)
    refused = run_cli("seed", env=env, cwd=tmp_path)
    assert refused.returncode == 1
    assert "not in production" in refused.stderr


def one_user(tmp_path: Path) -> dict[str, str]:
    """The environment of a migrated database with one user, demo1, and no links."""
    env = cli_env(tmp_path)
    assert run_cli("migrate", env=env, cwd=tmp_path).returncode == 0
    assert run_cli("seed", "--users", "1", "--links", "0", env=env, cwd=tmp_path).returncode == 0
    return env


def test_import_links_imports_good_rows_and_lists_the_rest(tmp_path: Path) -> None:
    env = one_user(tmp_path)
    csv_file = tmp_path / "links.csv"
    csv_file.write_text(
        "url,code,title,tags\n"
        "https://example.org/a,first-one,A,x|y\n"
        "ftp://example.org/b,,B,\n"
        "https://example.org/c,first-one,C,\n"
        "https://example.org/d,,D,\n"
    )
    result = run_cli("import-links", str(csv_file), "--owner", "demo1", env=env, cwd=tmp_path)
    assert result.returncode == 1  # some rows were rejected
    assert "Imported 2 links" in result.stdout
    assert "Rejected 2 rows:" in result.stderr
    assert "Line 3: url must start with http:// or https://." in result.stderr
    assert "Line 4: This code is already taken." in result.stderr
    assert sqlite_counts(tmp_path / "cli.db", "short_urls") == {"short_urls": 2}

    clean = tmp_path / "clean.csv"
    clean.write_text("url\nhttps://example.org/e\n")
    result = run_cli("import-links", str(clean), "--owner", "demo1", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Imported 1 links" in result.stdout


def test_import_links_with_bad_input_fails_clearly(tmp_path: Path) -> None:
    env = one_user(tmp_path)
    malformed = tmp_path / "malformed.csv"
    malformed.write_text('url,title\nhttps://example.org/a,"never closed\n')
    no_url = tmp_path / "no-url.csv"
    no_url.write_text("title\nA\n")
    good = tmp_path / "good.csv"
    good.write_text("url\nhttps://example.org/a\n")
    cases = [
        ((str(tmp_path / "missing.csv"), "--owner", "demo1"), "cannot read"),
        ((str(malformed), "--owner", "demo1"), "Malformed CSV"),
        ((str(no_url), "--owner", "demo1"), "among them `url`"),
        ((str(good), "--owner", "nobody"), "no user 'nobody'"),
    ]
    for args, message in cases:
        result = run_cli("import-links", *args, env=env, cwd=tmp_path)
        assert result.returncode != 0, args
        assert message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
    assert sqlite_counts(tmp_path / "cli.db", "short_urls") == {"short_urls": 0}


def sqlite_counts(database: Path, *tables: str) -> dict[str, int]:
    with closing(sqlite3.connect(database)) as db:
        return {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}


def test_every_command_explains_itself_and_each_of_its_options(tmp_path: Path) -> None:
    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    assert set(commands) >= {"serve", "migrate", "create-user", "seed", "import-links"}
    env = cli_env(tmp_path)
    for name, command in commands.items():
        assert command.help, name
        shown = run_cli(name, "--help", env=env, cwd=tmp_path)
        assert shown.returncode == 0, shown.stderr
        assert command.help.split("\n")[0][:40] in " ".join(shown.stdout.split())
        for param in command.params:
            assert param.help, f"{name} {param.name}"


# Eight threads allocate at once, then the process counts its malloc arenas (malloc_info).
ARENA_PROBE = """
import ctypes, sys, tempfile, threading
from graphql_api.cli import few_malloc_arenas
if sys.argv[1] == "limit":
    few_malloc_arenas()
allocated = threading.Barrier(9)
def allocate():
    block = bytes(100_000)  # from this thread's arena (below the mmap threshold)
    allocated.wait()
    allocated.wait()
threads = [threading.Thread(target=allocate) for _ in range(8)]
for thread in threads:
    thread.start()
allocated.wait()
libc = ctypes.CDLL(None)
libc.fopen.restype = ctypes.c_void_p
libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fclose.argtypes = [ctypes.c_void_p]
with tempfile.NamedTemporaryFile() as report:
    stream = libc.fopen(report.name.encode(), b"w")
    libc.malloc_info(0, stream)
    libc.fclose(stream)
    print(open(report.name).read().count("<heap nr="))
allocated.wait()
"""


def malloc_arenas(mode: str, **env: str) -> int:
    clean = {k: v for k, v in os.environ.items() if k not in {"MALLOC_ARENA_MAX", "GLIBC_TUNABLES"}}
    probe = subprocess.run(
        [sys.executable, "-c", ARENA_PROBE, mode],
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return int(probe.stdout)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc arenas are glibc's")
def test_serve_keeps_malloc_to_two_arenas_unless_the_operator_says_otherwise() -> None:
    assert malloc_arenas("default") > 2  # glibc's own choice, for comparison
    assert malloc_arenas("limit") <= 2
    assert malloc_arenas("limit", MALLOC_ARENA_MAX="4") == 4
    assert malloc_arenas("limit", GLIBC_TUNABLES="glibc.malloc.arena_max=3") == 3
