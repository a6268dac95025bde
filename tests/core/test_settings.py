import os
import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from graphql_api.core.settings import Settings, served_url


def test_production_refuses_a_missing_secret(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="GRAPHQL_API_SECRET_KEY must be set"):
        Settings(env="production", secret_file=tmp_path / "s")


@pytest.mark.parametrize("secret", ["changeme", "secret", "x" * 10, "   "])
def test_production_refuses_placeholder_or_short_secrets(secret: str) -> None:
    with pytest.raises(ValidationError, match="GRAPHQL_API_SECRET_KEY"):
        Settings(env="production", secret_key=secret)


def test_production_defaults_turn_off_introspection_and_graphiql() -> None:
    settings = Settings(env="production", secret_key="k" * 48)
    assert not settings.introspection_enabled
    assert not settings.graphiql_enabled
    assert Settings(env="production", secret_key="k" * 48, graphiql=True).graphiql_enabled


def test_development_secret_is_generated_once_and_private(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    first = Settings(secret_file=path).signing_key
    assert len(first) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Settings(secret_file=path).signing_key == first


def test_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/db")
    monkeypatch.setenv("GRAPHQL_API_CORS_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("GRAPHQL_API_ACCESS_TOKEN_MINUTES", "5")
    settings = Settings()
    assert settings.async_database_url == "postgresql+asyncpg://u@h/db"
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    assert settings.access_token_ttl.total_seconds() == 300


def test_env_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in [k for k in os.environ if k.startswith("GRAPHQL_API_") or k == "DATABASE_URL"]:
        monkeypatch.delenv(name)
    (tmp_path / ".env").write_text("DATABASE_URL=sqlite:///from-env-file.db\n")
    assert Settings().async_database_url == "sqlite+aiosqlite:///from-env-file.db"


@pytest.mark.parametrize(
    ("host", "port", "url"),
    [
        ("127.0.0.1", 9000, "http://127.0.0.1:9000"),
        ("localhost", 8000, "http://localhost:8000"),
        ("192.0.2.7", 80, "http://192.0.2.7"),
        ("0.0.0.0", 9000, "http://127.0.0.1:9000"),
        ("::", 9000, "http://[::1]:9000"),
        ("2001:db8::1", 9000, "http://[2001:db8::1]:9000"),
        ("fe80::1%eth0", 9000, "http://[fe80::1%25eth0]:9000"),
    ],
)
def test_the_served_url_names_the_address_served(host: str, port: int, url: str) -> None:
    assert served_url(host, port) == url
