"""Field types shared by the event payloads, so that every topic spells a unit the same way.

ARCHITECTURE.md "Data": money is integer KZT, instants are UTC, durations are integer
microseconds. The types below make those rules checked, not just named: a float fee, a naive
datetime or a negative duration fails validation at the producer, before it reaches the bus.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StringConstraints,
)


def _as_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_as_utc)]
"""An instant. A zone-less value is refused (RULES §1: never guess an offset); any offset is
accepted and normalized to UTC, which is how it is stored and sent."""

Microseconds = Annotated[StrictInt, Field(ge=0)]
"""A duration in integer microseconds (RULES §6: never floats; 1/1000 s tie-breaks and 1/100 s
rounding are both exact on this grid). Fields of this type end in ``_us``."""

Kzt = Annotated[StrictInt, Field(ge=0)]
"""An amount of money in whole tenge (RULES §1: no floats for money). Fields end in ``_kzt``."""

Gender = Literal["M", "F"]
"""Gender of a runner: race groups and team entries are split by it (reg 4.2, 4.2.4)."""

RaceGender = Literal["M", "F", "X"]
"""Gender of a race or standings: ``X`` is the mixed/open medley relay (RULES §8)."""

Language = Literal["ru", "kk", "en"]
"""Language a participant reads e-mail in."""

ResultStatus = Literal["OK", "DNS", "DNF", "DQ"]
"""Reg 11.4 display terms: OK = finished with a time; DQ always carries its rule reference."""

TimeSource = Literal["photo_finish", "chip", "manual"]
"""Where a finish time came from, best first (RULES §6): shown next to every time."""

DistanceCode = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]*$", min_length=1, max_length=32)
]
"""A distance as the edition config names it (`100m`, `1000m`, `3000m`, `relay`). Codes come
from `editions/<edition>.toml`, not from code, so a new edition may add distances."""

CategoryCode = Annotated[str, StringConstraints(min_length=1, max_length=32)]
"""An age category as the edition config names it (`18-34`, `55+`, `open` for the relay)."""

EditionCode = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$", min_length=1, max_length=32)
]
"""The edition an entity belongs to: the stem of its config file (`2024` for
`editions/2024.toml`)."""

Bib = Annotated[StrictInt, Field(ge=1)]
"""A BIB number (reg 7.8-7.10). Relay legs wear the team BIB with a leg suffix (RULES §3)."""

ChipId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
"""A timing chip's id exactly as the reader reports it (opaque to everyone but timing)."""

EmailAddress = Annotated[
    str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)
]

PersonName = Annotated[str, StringConstraints(min_length=1, max_length=100)]

ActorId = Annotated[str, StringConstraints(min_length=1, max_length=128)]
"""Who did something (a user id from the bearer token): results keep who, when and why
(ARCHITECTURE.md "Data")."""


class Contact(BaseModel):
    """Whom to write to about an entity, and in which language.

    Carried on every event that concerns one person so that `notifications` can write without
    asking anyone (services share no tables). Only `notifications` may store the e-mail; the
    name is also what `ranking` shows in public results (RULES §10: never the e-mail).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    first_name: PersonName = Field(description="Given name, as registered.")
    last_name: PersonName = Field(description="Family name, as registered.")
    email: EmailAddress = Field(description="Where e-mail goes. Notifications only; never public.")
    language: Language = Field(description="Language of the e-mails: `ru`, `kk` or `en`.")
