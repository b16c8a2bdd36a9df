"""Ranking's tables."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Column
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel


class RosterEntry(SQLModel, table=True):
    """Ranking's own copy of who runs: built from registration's participant events, never
    read from registration's tables (ARCHITECTURE.md: each service owns its data)."""

    __tablename__ = "roster"

    participant_id: uuid.UUID = Field(primary_key=True)
    bib: str | None = Field(default=None, max_length=16, unique=True)
    full_name: str = Field(max_length=200)
    gender: str = Field(max_length=1)
    distance: str = Field(max_length=20)
    category: str | None = Field(default=None, max_length=20)
    chip: str | None = Field(default=None, max_length=64, unique=True)
    updated_at: datetime | None = None
    contact: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB))
    club: str | None = None
    ban: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB))
    """The organizer's ban, if any: clause, reason, by whom, when (reg 7.11)."""
