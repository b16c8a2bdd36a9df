"""Notifications' tables: the deliveries, and what it keeps of other services' events.

``recipients`` is a projection of registration's participant events (whom to write to, in
which language, on which distance, paid or not): ranking's events name runners by
participant id and BIB only (RULES §10), so notifications resolves them here, in its own
database (services share no tables, ARCHITECTURE.md). ``start_notices`` / ``result_notices``
/ ``team_notices`` remember what a participant was last told, so a republished start list or
result sends nothing unless what concerns that person changed.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlmodel import Field, SQLModel


class Delivery(SQLModel, table=True):
    """One e-mail: recorded (rendered) in the transaction that consumed its cause, sent
    after, marked after sending; (event_id, recipient, template) is unique."""

    __tablename__ = "deliveries"

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: uuid.UUID
    event_id: uuid.UUID
    kind: str = Field(max_length=20)  # event, reminder, announcement, resend
    trigger_event_type: str | None = Field(default=None, max_length=64)
    participant_id: uuid.UUID | None = None
    recipient: str = Field(max_length=320)
    template: str = Field(max_length=64)
    language: str = Field(max_length=2)
    subject: str
    body_text: str
    body_html: str
    status: str = Field(default="pending", max_length=20)  # pending, sent, gave_up
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    smtp_message_id: str | None = None
    created_at: datetime | None = None
    sent_at: datetime | None = None
    gave_up_at: datetime | None = None


class Recipient(SQLModel, table=True):
    """Whom to write to about a participant (from registration's events)."""

    __tablename__ = "recipients"

    participant_id: uuid.UUID = Field(primary_key=True)
    edition: str = Field(max_length=32)
    registration_number: str = Field(max_length=32)
    email: str = Field(max_length=320)
    language: str = Field(max_length=2)
    first_name: str = Field(max_length=100)
    last_name: str = Field(max_length=100)
    distance: str | None = Field(default=None, max_length=32)
    gender: str | None = Field(default=None, max_length=1)
    age_category: str | None = Field(default=None, max_length=32)
    bib: int | None = None
    status: str = Field(max_length=20)  # applied, paid, expired, refused, banned
    updated_at: datetime | None = None


class RelayCaptain(SQLModel, table=True):
    """Whom to write to about a relay team: its captain (RULES §8)."""

    __tablename__ = "relay_captains"

    relay_team_id: uuid.UUID = Field(primary_key=True)
    edition: str = Field(max_length=32)
    team_name: str = Field(max_length=100)
    email: str = Field(max_length=320)
    language: str = Field(max_length=2)
    first_name: str = Field(max_length=100)
    last_name: str = Field(max_length=100)
    bib: int


class StartNotice(SQLModel, table=True):
    """The start a participant (or a relay team's captain, by team id) was last told about."""

    __tablename__ = "start_notices"

    participant_id: uuid.UUID = Field(primary_key=True)
    race_id: uuid.UUID = Field(primary_key=True)
    race_number: int
    heat_number: int
    lane: int | None = None
    scheduled_start_at: datetime
    revision: int


class ResultNotice(SQLModel, table=True):
    """The result of one race a participant was last told about, and at which stage."""

    __tablename__ = "result_notices"

    participant_id: uuid.UUID = Field(primary_key=True)
    race_id: uuid.UUID = Field(primary_key=True)
    stage: str = Field(max_length=20)  # provisional, official, corrected
    fingerprint: str = Field(max_length=200)


class StandingsPlace(SQLModel, table=True):
    """A participant's place in category and in gender standings (newest revision)."""

    __tablename__ = "standings_places"

    participant_id: uuid.UUID = Field(primary_key=True)
    scope: str = Field(primary_key=True, max_length=10)  # category, gender
    standings_id: str = Field(max_length=128)
    place: int | None = None
    revision: int


class TeamNotice(SQLModel, table=True):
    """The team standing a team member was last told about, per classification."""

    __tablename__ = "team_notices"

    participant_id: uuid.UUID = Field(primary_key=True)
    classification: str = Field(primary_key=True, max_length=32)
    fingerprint: str = Field(max_length=200)


class EditionDate(SQLModel, table=True):
    """An edition's competition date once postponed (reg 16.1): the config keeps the planned
    one, the running system takes the new one from the event (RULES §1)."""

    __tablename__ = "edition_dates"

    edition: str = Field(primary_key=True, max_length=32)
    competition_date: date
