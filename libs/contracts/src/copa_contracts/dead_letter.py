"""What a consumer writes to ``<topic>.dlq`` when a message can never be processed.

ARCHITECTURE.md "The bus": a message that fails for good (bad schema, rule violation) goes to
a dead-letter topic with the error after bounded retries, and the consumer moves on. The
original bytes are kept exactly (base64), because a message that failed to parse may not be
valid JSON or UTF-8, and replaying it after a fix must send what was received.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from copa_contracts.common import UtcDatetime


class DeadLetter(BaseModel):
    """One message a consumer gave up on, with where it came from and why.

    Not an event in an envelope: it wraps a message that may not be a valid envelope at all,
    so it travels bare, as this model's JSON.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    source_topic: str = Field(min_length=1, description="Topic the message was read from.")
    partition: int = Field(ge=0, description="Partition it was read from.")
    offset: int = Field(ge=0, description="Its offset in that partition.")
    key: str | None = Field(description="Its key, decoded as UTF-8 (none if absent).")
    consumer: str = Field(min_length=1, description="Consumer group that failed on it.")
    error: str = Field(description="The error message of the last attempt.")
    error_type: str = Field(description="Class name of the exception, e.g. `ValidationError`.")
    attempts: int = Field(ge=1, description="How many times processing was tried.")
    failed_at: UtcDatetime = Field(description="When the consumer gave up.")
    raw_value: str = Field(description="The original message value, base64 (RFC 4648).")

    @field_validator("raw_value")
    @classmethod
    def _is_base64(cls, value: str) -> str:
        try:
            base64.b64decode(value, validate=True)
        except binascii.Error as error:
            raise ValueError(f"raw_value is not base64: {error}") from None
        return value

    @classmethod
    def of(
        cls,
        *,
        source_topic: str,
        partition: int,
        offset: int,
        key: bytes | str | None,
        value: bytes,
        consumer: str,
        error: BaseException,
        attempts: int,
        failed_at: datetime | None = None,
    ) -> DeadLetter:
        """The dead letter of a raw Kafka message that failed with ``error``."""
        if isinstance(key, bytes):
            key = key.decode("utf-8", errors="replace")
        return cls(
            source_topic=source_topic,
            partition=partition,
            offset=offset,
            key=key,
            consumer=consumer,
            error=str(error),
            error_type=type(error).__name__,
            attempts=attempts,
            failed_at=failed_at or datetime.now(UTC),
            raw_value=base64.b64encode(value).decode("ascii"),
        )

    def original_value(self) -> bytes:
        """The message value exactly as it was received, to inspect or to replay."""
        return base64.b64decode(self.raw_value)

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> DeadLetter:
        return cls.model_validate_json(raw)


__all__ = ["DeadLetter"]
