"""Teams' tables: its own copy of what it consumes, its applications, its published tables.

Teams never reads another service's tables (ARCHITECTURE.md): ``participants``,
``gender_standings``, ``relay_teams`` and ``relay_races`` are projections of registration's
and ranking's events; ``team_applications`` / ``team_entries`` are what teams owns (reg 4.2.4);
``published_tables`` remembers the last table published per classification so that the same
inputs never publish again (idempotent recomputation).
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    UniqueConstraint,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

participants = Table(
    "participants",
    metadata,
    Column("participant_id", Uuid, primary_key=True),
    Column("bib", Integer, nullable=False, unique=True),
    Column("distance", String(32), nullable=False),
    Column("gender", String(1), nullable=False),
    Column("full_name", String(201), nullable=False),
    # A keyed digest of (e-mail, name): the same person across distances (reg 4.2.4) without
    # storing an e-mail (only notifications may, RULES §10).
    Column("person_key", String(64), nullable=False, index=True),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

team_applications = Table(
    "team_applications",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("classification", String(32), nullable=False),
    Column("team_name", String(200), nullable=False),
    Column("name_key", String(200), nullable=False),
    Column("token_sha256", String(64), nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("updated_by", String(128), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("classification", "name_key", name="team_name_once_per_classification"),
)

team_entries = Table(
    "team_entries",
    metadata,
    Column(
        "application_id",
        Uuid,
        ForeignKey("team_applications.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("line", Integer, nullable=False),
    Column("full_name", String(200), nullable=False),
    Column("bib", Integer, nullable=False),
    Column("distance", String(32), nullable=False),
    Column("gender", String(1), nullable=True),
    PrimaryKeyConstraint("application_id", "line"),
)

gender_standings = Table(
    "gender_standings",
    metadata,
    Column("distance", String(32), nullable=False),
    Column("gender", String(1), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("entrants_count", Integer, nullable=False),
    Column("lines", JSONB, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("distance", "gender"),
)

relay_teams = Table(
    "relay_teams",
    metadata,
    Column("relay_team_id", Uuid, primary_key=True),
    Column("bib", Integer, nullable=False),
    Column("team_name", String(100), nullable=False),
)

relay_races = Table(
    "relay_races",
    metadata,
    Column("race_id", Uuid, primary_key=True),
    Column("revision", Integer, nullable=False),
    Column("official", Boolean, nullable=False),
    Column("lines", JSONB, nullable=True),
)

published_tables = Table(
    "published_tables",
    metadata,
    Column("classification", String(32), primary_key=True),
    Column("revision", Integer, nullable=False),
    Column("status", String(16), nullable=True),
    Column("content_sha256", String(64), nullable=True),
    Column("document", JSONB, nullable=True),
    Column("waiting_for", JSONB, nullable=True),
    Column("published_at", DateTime(timezone=True), nullable=True),
)

__all__ = [
    "gender_standings",
    "metadata",
    "participants",
    "published_tables",
    "relay_races",
    "relay_teams",
    "team_applications",
    "team_entries",
]
