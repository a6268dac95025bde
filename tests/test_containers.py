"""The Dockerfile and compose.yaml, checked as far as a machine without Docker can."""

import re
from pathlib import Path

import yaml

from graphql_api.core.http import ide
from graphql_api.core.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
RUNTIME = DOCKERFILE.split("AS runtime", 1)[1]


def test_the_image_runs_as_a_user_with_a_health_check() -> None:
    users = re.findall(r"^USER (\S+)$", RUNTIME, re.M)
    assert users and users[-1] not in ("root", "0")
    assert "HEALTHCHECK" in RUNTIME and "/livez" in RUNTIME
    assert "GRAPHQL_API_ENV=production" in RUNTIME


def test_the_image_carries_exactly_graphiqls_files() -> None:
    copied = set()
    for line in re.findall(r"^COPY --from=graphiql (.+)$", RUNTIME, re.M):
        *sources, target = line.split()
        folder = target.removeprefix("/opt/graphiql/")
        copied |= {folder + Path(source).name for source in sources}
    assert copied == set(ide.VENDOR.values())
    assert "GRAPHQL_API_GRAPHIQL_ASSETS_DIR=/opt/graphiql" in RUNTIME
    for path in ide.VENDOR.values():  # where the npm packages put them (scripts/test installs)
        assert (ROOT / "graphiql" / "node_modules" / path).is_file(), path


def test_the_build_context_leaves_out_local_state() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".venv", "**/node_modules", "*.db", ".env", ".graphql_api_secret"} <= ignored


def test_compose_runs_workers_on_postgresql_and_redis_with_real_settings() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    api = compose["services"]["api"]
    environment = api["environment"]
    settings = {f"GRAPHQL_API_{name.upper()}" for name in Settings.model_fields}
    unknown = set(environment) - settings - {"DATABASE_URL", "BROKER_URL", "WORKERS"}
    assert unknown == set()
    assert environment["DATABASE_URL"].startswith("postgresql://")
    assert environment["BROKER_URL"].startswith("redis://")  # several workers need it
    assert int(environment["WORKERS"]) > 1
    assert api["depends_on"] == {
        "db": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }
    assert "${GRAPHQL_API_SECRET_KEY:?" in environment["GRAPHQL_API_SECRET_KEY"]  # no default
