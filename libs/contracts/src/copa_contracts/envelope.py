"""The one envelope every message on the bus travels in (ARCHITECTURE.md, "The bus")."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field


class Event(BaseModel):
    """Base of every event payload: frozen, strict about unknown fields.

    Each concrete event declares its wire ``type`` name and schema ``version``. Within a
    version, fields are only ever added, and only as optional ones.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str]
    event_version: ClassVar[int] = 1


class Envelope(BaseModel):
    """What is written to Kafka: metadata around one event payload, serialized as JSON."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: uuid.UUID = Field(description="Unique id; consumers deduplicate on it.")
    type: str = Field(description="Event type name, e.g. `participant.paid`.")
    version: int = Field(ge=1, description="Schema version of the payload.")
    occurred_at: datetime = Field(description="When the change happened (UTC).")
    producer: str = Field(description="Service that produced the event.")
    key: str = Field(description="Partition key: the entity whose events must stay in order.")
    correlation_id: str | None = Field(default=None, description="Request or flow id.")
    payload: dict[str, Any] = Field(description="The event itself, as its type's schema says.")

    @classmethod
    def wrap(
        cls,
        event: Event,
        *,
        producer: str,
        key: str,
        correlation_id: str | None = None,
        event_id: uuid.UUID | None = None,
        occurred_at: datetime | None = None,
    ) -> Envelope:
        return cls(
            event_id=event_id or uuid.uuid4(),
            type=event.event_type,
            version=event.event_version,
            occurred_at=occurred_at or datetime.now(UTC),
            producer=producer,
            key=key,
            correlation_id=correlation_id,
            payload=event.model_dump(mode="json"),
        )

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Envelope:
        return cls.model_validate_json(raw)
