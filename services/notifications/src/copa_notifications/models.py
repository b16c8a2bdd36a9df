"""Notifications' tables."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Field, SQLModel


class Delivery(SQLModel, table=True):
    """One e-mail: recorded before it is sent, marked after (so a crash neither loses nor
    doubles one)."""

    __tablename__ = "deliveries"

    id: int | None = Field(default=None, primary_key=True)
    event_id: uuid.UUID
    recipient: str = Field(max_length=320)
    template: str = Field(max_length=64)
    language: str = Field(max_length=2)
    status: str = Field(default="pending", max_length=20)
    attempts: int = 0
    created_at: datetime | None = None
    sent_at: datetime | None = None
