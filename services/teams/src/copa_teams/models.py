"""Teams' tables."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Field, SQLModel


class TeamApplication(SQLModel, table=True):
    """A team's application for one classification of reg 4.2.4 (Sprint or Medium-range)."""

    __tablename__ = "team_applications"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    team_name: str = Field(max_length=200)
    classification: str = Field(max_length=20, description="sprint or medium")
    status: str = Field(default="draft", max_length=20)
    created_at: datetime | None = None
