"""One index less on every read stored: ``reads_by_device`` served only replays.

A replay of a device reads its rows through ``reads_once_per_device`` (device first) and
sorts them; storing a read is the hot path (issue 4), replaying one is rare.
"""

from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.drop_index("reads_by_device", table_name="reads")


def downgrade() -> None:
    op.create_index("reads_by_device", "reads", ["device_id", "id"])
