"""ids never reused: SQLite tables keyed by an id get AUTOINCREMENT

SQLite gives the largest id out again once its row is deleted; PostgreSQL's sequences
never do. Each table is rebuilt with AUTOINCREMENT (SQLite cannot add it in place),
its rows, ids and indexes kept. Nothing changes on PostgreSQL.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

import warnings
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = (
    "users",
    "refresh_tokens",
    "items",
    "short_urls",
    "visits",
    "chat_rooms",
    "chat_messages",
)


def _rebuild(autoincrement: bool) -> None:
    for table in TABLES:
        with (
            warnings.catch_warnings(),
            op.batch_alter_table(
                table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
            ),
        ):
            warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression")
    # Reflection does not see expression indexes: the rebuilt users table needs them again.
    op.create_index("uq_users_username_lower", "users", [sa.text("lower(username)")], unique=True)
    op.create_index("uq_users_email_lower", "users", [sa.text("lower(email)")], unique=True)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild(autoincrement=True)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild(autoincrement=False)
