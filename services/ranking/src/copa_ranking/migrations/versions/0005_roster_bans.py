"""A ban on the roster (reg 7.11): a banned runner is disqualified and drawn in no race."""

from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.execute("ALTER TABLE roster ADD COLUMN ban jsonb")


def downgrade() -> None:
    op.execute("ALTER TABLE roster DROP COLUMN ban")
