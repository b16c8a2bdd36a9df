"""Teams' first tables: the runtime's outbox and tracking, and team applications."""

import sqlalchemy as sa
from alembic import op

from copa_runtime.migrations import create_runtime_tables, drop_runtime_tables

revision = "0001"
down_revision = None


def upgrade() -> None:
    create_runtime_tables()
    op.create_table(
        "team_applications",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("team_name", sa.String(200), nullable=False),
        sa.Column("classification", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.UniqueConstraint("team_name", "classification"),
    )


def downgrade() -> None:
    op.drop_table("team_applications")
    drop_runtime_tables()
