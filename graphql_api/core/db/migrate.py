"""Alembic, driven from code: no alembic.ini to keep in step with the settings."""

import asyncio
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from graphql_api.core.settings import Settings

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(settings: Settings) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["settings"] = settings
    return config


def upgrade(settings: Settings, revision: str = "head") -> None:
    """Apply migrations up to `revision` (runs its own event loop: call from sync code)."""
    command.upgrade(alembic_config(settings), revision)


async def upgrade_async(settings: Settings, revision: str = "head") -> None:
    await asyncio.to_thread(upgrade, settings, revision)


def next_revision_id() -> str:
    """The id of a new migration: they are numbered 0001, 0002 ... (its file `000N_slug.py`)."""
    scripts = ScriptDirectory(str(MIGRATIONS))
    numbers = [int(s.revision) for s in scripts.walk_revisions() if s.revision.isdigit()]
    return f"{max(numbers, default=0) + 1:04d}"


@cache
def head_revisions() -> frozenset[str]:
    """The newest migrations: read off the scripts once (they ship with the code)."""
    return frozenset(ScriptDirectory(str(MIGRATIONS)).get_heads())


async def pending_migrations(engine: AsyncEngine) -> bool:
    """Whether the database is behind the newest migration."""
    async with engine.connect() as conn:
        current = await conn.run_sync(
            lambda sync: set(MigrationContext.configure(sync).get_current_heads())
        )
    return current != head_revisions()
