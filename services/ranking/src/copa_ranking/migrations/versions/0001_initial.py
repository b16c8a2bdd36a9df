"""Ranking's first tables: the runtime's outbox and tracking, and the participant roster."""

import sqlalchemy as sa
from alembic import op

from copa_runtime.migrations import create_runtime_tables, drop_runtime_tables

revision = "0001"
down_revision = None


def upgrade() -> None:
    create_runtime_tables()
    op.create_table(
        "roster",
        sa.Column("participant_id", sa.Uuid, primary_key=True),
        sa.Column("bib", sa.String(16), nullable=True, unique=True),
        sa.Column("full_name", sa.String(200), nullable=False),
        sa.Column("gender", sa.String(1), nullable=False),
        sa.Column("distance", sa.String(20), nullable=False),
        sa.Column("category", sa.String(20), nullable=True),
        sa.Column("chip", sa.String(64), nullable=True, unique=True),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )


def downgrade() -> None:
    op.drop_table("roster")
    drop_runtime_tables()
