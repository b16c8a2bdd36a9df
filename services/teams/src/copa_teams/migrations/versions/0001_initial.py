"""Teams' tables: the runtime's outbox and tracking; participants and standings as teams sees
them; team applications and entries (reg 4.2.4); relay teams and races; published tables."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from copa_runtime.migrations import create_runtime_tables, drop_runtime_tables

revision = "0001"
down_revision = None


def upgrade() -> None:
    create_runtime_tables()
    op.create_table(
        "participants",
        sa.Column("participant_id", sa.Uuid, primary_key=True),
        sa.Column("bib", sa.Integer, nullable=False, unique=True),
        sa.Column("distance", sa.String(32), nullable=False),
        sa.Column("gender", sa.String(1), nullable=False),
        sa.Column("full_name", sa.String(201), nullable=False),
        sa.Column("person_key", sa.String(64), nullable=False, index=True),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_table(
        "team_applications",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("classification", sa.String(32), nullable=False),
        sa.Column("team_name", sa.String(200), nullable=False),
        sa.Column("name_key", sa.String(200), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("updated_by", sa.String(128), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.UniqueConstraint("classification", "name_key", name="team_name_once_per_classification"),
    )
    op.create_table(
        "team_entries",
        sa.Column(
            "application_id",
            sa.Uuid,
            sa.ForeignKey("team_applications.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("line", sa.Integer, nullable=False),
        sa.Column("full_name", sa.String(200), nullable=False),
        sa.Column("bib", sa.Integer, nullable=False),
        sa.Column("distance", sa.String(32), nullable=False),
        sa.Column("gender", sa.String(1), nullable=True),
        sa.PrimaryKeyConstraint("application_id", "line"),
    )
    op.create_index("team_entries_by_bib", "team_entries", ["bib"])
    op.create_table(
        "gender_standings",
        sa.Column("distance", sa.String(32), nullable=False),
        sa.Column("gender", sa.String(1), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("entrants_count", sa.Integer, nullable=False),
        sa.Column("lines", JSONB, nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.PrimaryKeyConstraint("distance", "gender"),
    )
    op.create_table(
        "relay_teams",
        sa.Column("relay_team_id", sa.Uuid, primary_key=True),
        sa.Column("bib", sa.Integer, nullable=False),
        sa.Column("team_name", sa.String(100), nullable=False),
    )
    op.create_table(
        "relay_races",
        sa.Column("race_id", sa.Uuid, primary_key=True),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("official", sa.Boolean, nullable=False),
        sa.Column("lines", JSONB, nullable=True),
    )
    op.create_table(
        "published_tables",
        sa.Column("classification", sa.String(32), primary_key=True),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=True),
        sa.Column("content_sha256", sa.String(64), nullable=True),
        sa.Column("document", JSONB, nullable=True),
        sa.Column("waiting_for", JSONB, nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    for table in (
        "published_tables",
        "relay_races",
        "relay_teams",
        "gender_standings",
        "team_entries",
        "team_applications",
        "participants",
    ):
        op.drop_table(table)
    drop_runtime_tables()
