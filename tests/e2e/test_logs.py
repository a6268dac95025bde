"""Logs as an operator reads them: JSON lines in production, readable ones in development,
each with the request's id."""

from pathlib import Path

import httpx
import orjson

from tests.e2e.test_production_profile import SECRET
from tests.support.server import cli_env, run_cli, running_server

REQUEST_ID = "trace-4f2a"


def serve_one_request(tmp_path: Path, **env: str) -> list[str]:
    environment = cli_env(tmp_path, **env)
    assert run_cli("migrate", env=environment, cwd=tmp_path).returncode == 0
    with running_server(environment, tmp_path) as url:
        response = httpx.get(f"{url}/livez", headers={"X-Request-ID": REQUEST_ID})
        assert response.headers["x-request-id"] == REQUEST_ID
    (log,) = tmp_path.glob("server-*.log")
    return log.read_text().splitlines()


def test_production_logs_are_json_lines_with_the_request_id(tmp_path: Path) -> None:
    lines = serve_one_request(tmp_path, GRAPHQL_API_ENV="production", GRAPHQL_API_SECRET_KEY=SECRET)
    entries = [orjson.loads(line) for line in lines]  # every line is one JSON object
    access = [e for e in entries if e["logger"] == "uvicorn.access"]
    assert all(e["request_id"] for e in access)  # the start-up check's own requests too
    ours = [e for e in access if e["request_id"] == REQUEST_ID]
    assert [(e["method"], e["path"], e["status"]) for e in ours] == [("GET", "/livez", 200)]
    assert {"time", "level", "message"} <= ours[0].keys()
    assert any(e["message"].startswith("Application startup complete") for e in entries)


def test_development_logs_are_readable_with_the_request_id(tmp_path: Path) -> None:
    lines = serve_one_request(tmp_path)
    (access,) = [line for line in lines if REQUEST_ID in line]
    assert "uvicorn.access" in access
    assert f"[{REQUEST_ID}]" in access and '"GET /livez HTTP/1.1" 200' in access
    assert not access.startswith("{")
