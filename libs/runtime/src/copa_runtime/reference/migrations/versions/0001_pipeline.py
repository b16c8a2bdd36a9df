"""A test service's database: the runtime tables and one table of effects."""

import sqlalchemy as sa
from alembic import op

from copa_runtime.migrations import create_runtime_tables, drop_runtime_tables

revision = "0001"
down_revision = None


def upgrade() -> None:
    create_runtime_tables()
    op.create_table(
        "effects",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("event_id", sa.Uuid, nullable=False),
        sa.Column("n", sa.Integer, nullable=False),
        # When the consumer applied it; the benchmark's commit-to-effect delay ends here.
        sa.Column(
            "applied_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.text("clock_timestamp()"),
        ),
    )
    op.create_table(
        "changes",
        sa.Column("n", sa.Integer, primary_key=True),
    )


def downgrade() -> None:
    op.drop_table("changes")
    op.drop_table("effects")
    drop_runtime_tables()
