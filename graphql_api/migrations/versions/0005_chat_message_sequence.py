"""chat messages numbered per room in commit order

Each room counts its messages (`chat_rooms.last_seq`) and each message keeps its number
in the room (`chat_messages.seq`, unique per room), which orders the history and the
live events. Existing messages are numbered in id order, the order they were read in
until now; the index on (room_id, id) gives way to the unique one on (room_id, seq).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op
from alembic.operations import BatchOperations

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite rebuilds a table to change it: AUTOINCREMENT (0004) must survive the rebuild.
KEEP_AUTOINCREMENT = {"sqlite_autoincrement": True}


@contextmanager
def _rebuilding(table: str) -> Iterator[BatchOperations]:
    """`op.batch_alter_table`, quiet about the users table's expression indexes, which
    SQLite's reflection (of the tables referred to) cannot see and the rebuild leaves be."""
    with (
        warnings.catch_warnings(),
        op.batch_alter_table(table, table_kwargs=KEEP_AUTOINCREMENT) as batch_op,
    ):
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression")
        yield batch_op


def upgrade() -> None:
    with _rebuilding("chat_rooms") as batch_op:
        batch_op.add_column(
            sa.Column("last_seq", sa.BigInteger(), server_default="0", nullable=False)
        )
    op.add_column("chat_messages", sa.Column("seq", sa.BigInteger(), nullable=True))
    op.execute(
        "UPDATE chat_messages SET seq = numbered.seq FROM (SELECT id, row_number() OVER"
        " (PARTITION BY room_id ORDER BY id) AS seq FROM chat_messages) AS numbered"
        " WHERE chat_messages.id = numbered.id"
    )
    op.execute(
        "UPDATE chat_rooms SET last_seq = (SELECT coalesce(max(seq), 0) FROM chat_messages"
        " WHERE chat_messages.room_id = chat_rooms.id)"
    )
    with _rebuilding("chat_messages") as batch_op:
        batch_op.alter_column("seq", existing_type=sa.BigInteger(), nullable=False)
        batch_op.drop_index("ix_chat_messages_room_id")
        batch_op.create_unique_constraint("uq_chat_messages_room_id_seq", ["room_id", "seq"])


def downgrade() -> None:
    with _rebuilding("chat_messages") as batch_op:
        batch_op.drop_constraint("uq_chat_messages_room_id_seq", type_="unique")
        batch_op.create_index("ix_chat_messages_room_id", ["room_id", "id"], unique=False)
        batch_op.drop_column("seq")
    with _rebuilding("chat_rooms") as batch_op:
        batch_op.drop_column("last_seq")
