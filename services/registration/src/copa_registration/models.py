"""Registration's tables (models.py naming after the full-stack FastAPI template)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, DateTime, func
from sqlmodel import Field, SQLModel


class ApplicationBase(SQLModel):
    full_name: str = Field(max_length=200)
    email: str = Field(max_length=320)
    distance: str = Field(max_length=20, description="100m, 1000m or 3000m (reg 4.1)")
    language: str = Field(default="ru", max_length=2, description="ru, kk or en")


class Application(ApplicationBase, table=True):
    """An application for a distance; it becomes a participant once paid (reg 7.3)."""

    __tablename__ = "applications"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    status: str = Field(default="received", max_length=20, index=True)
    created_at: datetime | None = Field(
        default=None,
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
