"""Timing ingest's tables."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel


class Device(SQLModel, table=True):
    """A timing device (reader, decoder, photo-finish PC) known by the id in its token.

    Zone-less times it sends are read in ``time_zone`` (TIMING-FORMATS.md: IPICO and others
    carry the reader's local clock).
    """

    __tablename__ = "devices"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    time_zone: str = Field(default="Asia/Almaty", max_length=64)
    last_contact_at: datetime | None = None
    reads_total: int = 0
    created_at: datetime | None = None
