"""Timing ingest's tables: devices and everything they send, kept as it came."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel


class Device(SQLModel, table=True):
    """A timing device (reader, decoder, start system, photo-finish PC), known by the id in its
    token and registered on first contact.

    Zone-less times it sends are read in ``time_zone`` (TIMING-FORMATS.md: IPICO and others
    carry the reader's local clock); ``timing_point`` is where it stands; ``current_race_id``
    is the race a start signal inside its stream (ChronoTrack ``guntime``) belongs to.
    """

    __tablename__ = "devices"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    time_zone: str = Field(default="Asia/Almaty", max_length=64)
    timing_point: str = Field(default="finish", max_length=32)
    current_race_id: uuid.UUID | None = None
    last_contact_at: datetime | None = None
    reads_total: int = 0
    duplicates_total: int = 0
    rejected_total: int = 0
    created_at: datetime | None = None


class Read(SQLModel, table=True):
    """One read as the device sent it; stored once per (device, dedupe key) (RULES §6)."""

    __tablename__ = "reads"

    id: int | None = Field(default=None, primary_key=True)
    device_id: str = Field(max_length=64)
    dedupe_key: str
    event_id: uuid.UUID
    chip: str = Field(max_length=64)
    read_at: datetime
    kind: str = Field(max_length=16)
    timing_point: str = Field(max_length=32)
    antenna: int | None = None
    seq: int | None = None
    rssi: int | None = None
    received_at: datetime | None = None


class RejectedLine(SQLModel, table=True):
    """A line or read that could not be taken, with why: shown to operators, never dropped."""

    __tablename__ = "rejected_lines"

    id: int | None = Field(default=None, primary_key=True)
    device_id: str = Field(max_length=64)
    format: str = Field(max_length=16)
    line: int
    text: str
    reason: str
    received_at: datetime | None = None


class StartSignalRecord(SQLModel, table=True):
    """A start signal (reg 11.4: gun time counts from it); a null race is an in-stream gun of a
    device with no current race, kept for the operator to assign."""

    __tablename__ = "start_signals"

    signal_id: uuid.UUID = Field(primary_key=True)
    race_id: uuid.UUID | None = None
    device_id: str = Field(max_length=64)
    fired_at: datetime
    source: str = Field(max_length=16)
    received_at: datetime | None = None


class PhotoFinishFile(SQLModel, table=True):
    """A FinishLynx ``.lif`` file stored byte for byte as it came, with what was parsed."""

    __tablename__ = "photo_finish_files"

    id: int | None = Field(default=None, primary_key=True)
    race_id: uuid.UUID
    device_id: str = Field(max_length=64)
    file_name: str = Field(max_length=255)
    sha256: str = Field(max_length=64)
    content: bytes
    parsed: dict[str, object] = Field(sa_column=Column(JSONB, nullable=False))
    received_at: datetime | None = None
