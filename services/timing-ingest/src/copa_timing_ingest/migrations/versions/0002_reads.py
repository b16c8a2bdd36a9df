"""Everything a timing device sends, kept raw: reads, rejected lines, starts, photo-finish files."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.add_column(
        "devices", sa.Column("timing_point", sa.String(32), nullable=False, server_default="finish")
    )
    op.add_column("devices", sa.Column("current_race_id", sa.Uuid, nullable=True))
    op.add_column(
        "devices", sa.Column("duplicates_total", sa.BigInteger, nullable=False, server_default="0")
    )
    op.add_column(
        "devices", sa.Column("rejected_total", sa.BigInteger, nullable=False, server_default="0")
    )
    op.create_table(
        "reads",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("device_id", sa.String(64), nullable=False),
        # What makes a read the same read (RULES §6): the device's sequence number with chip
        # and instant where the format has one, else the whole content.
        sa.Column("dedupe_key", sa.Text, nullable=False),
        sa.Column("event_id", sa.Uuid, nullable=False),
        sa.Column("chip", sa.String(64), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("timing_point", sa.String(32), nullable=False),
        sa.Column("antenna", sa.Integer, nullable=True),
        sa.Column("seq", sa.BigInteger, nullable=True),
        sa.Column("rssi", sa.Integer, nullable=True),
        sa.Column(
            "received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.UniqueConstraint("device_id", "dedupe_key", name="reads_once_per_device"),
    )
    op.create_index("reads_by_device", "reads", ["device_id", "id"])
    op.create_table(
        "rejected_lines",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("line", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column(
            "received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_index("rejected_by_device", "rejected_lines", ["device_id", "id"])
    op.create_table(
        "start_signals",
        sa.Column("signal_id", sa.Uuid, primary_key=True),
        sa.Column("race_id", sa.Uuid, nullable=True),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column(
            "received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.UniqueConstraint("device_id", "race_id", "fired_at", name="start_once"),
    )
    op.create_table(
        "photo_finish_files",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("race_id", sa.Uuid, nullable=False),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.Column("parsed", postgresql.JSONB, nullable=False),
        sa.Column(
            "received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.UniqueConstraint("race_id", "sha256", name="photo_finish_once"),
    )


def downgrade() -> None:
    op.drop_table("photo_finish_files")
    op.drop_table("start_signals")
    op.drop_table("rejected_lines")
    op.drop_table("reads")
    for column in ("rejected_total", "duplicates_total", "current_race_id", "timing_point"):
        op.drop_column("devices", column)
