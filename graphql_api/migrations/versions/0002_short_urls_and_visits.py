"""short urls and visits

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "short_urls",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("target_url", sa.Text(), nullable=False),
        sa.Column("owner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("redirect_status", sa.SmallInteger(), nullable=False),
        sa.Column("valid_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("max_visits", sa.BigInteger(), nullable=True),
        sa.Column("visit_count", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_short_urls_owner_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_short_urls")),
        sa.UniqueConstraint("code", name=op.f("uq_short_urls_code")),
    )
    with op.batch_alter_table("short_urls", schema=None) as batch_op:
        batch_op.create_index(
            "ix_short_urls_owner_created", ["owner_id", "created_at", "id"], unique=False
        )

    op.create_table(
        "short_url_tags",
        sa.Column(
            "short_url_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("tag", sa.String(length=50), nullable=False),
        sa.ForeignKeyConstraint(
            ["short_url_id"],
            ["short_urls.id"],
            name=op.f("fk_short_url_tags_short_url_id_short_urls"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("short_url_id", "tag", name=op.f("pk_short_url_tags")),
    )
    with op.batch_alter_table("short_url_tags", schema=None) as batch_op:
        batch_op.create_index("ix_short_url_tags_tag", ["tag", "short_url_id"], unique=False)

    op.create_table(
        "visits",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "short_url_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("visited_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("referrer", sa.String(length=1024), nullable=True),
        sa.Column("user_agent", sa.String(length=512), nullable=True),
        sa.Column("browser", sa.String(length=64), nullable=True),
        sa.Column("os", sa.String(length=64), nullable=True),
        sa.Column("device", sa.String(length=16), nullable=True),
        sa.Column("is_bot", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["short_url_id"],
            ["short_urls.id"],
            name=op.f("fk_visits_short_url_id_short_urls"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visits")),
    )
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.create_index(
            "ix_visits_short_url_time", ["short_url_id", "visited_at", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.drop_index("ix_visits_short_url_time")

    op.drop_table("visits")
    with op.batch_alter_table("short_url_tags", schema=None) as batch_op:
        batch_op.drop_index("ix_short_url_tags_tag")

    op.drop_table("short_url_tags")
    with op.batch_alter_table("short_urls", schema=None) as batch_op:
        batch_op.drop_index("ix_short_urls_owner_created")

    op.drop_table("short_urls")
