from pathlib import Path

from tests.cli_helpers import cli_env, run_cli

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
