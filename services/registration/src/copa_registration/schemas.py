"""What the HTTP API accepts and returns (FastAPI template naming: XCreate, XPublic)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from copa_contracts.common import EmailAddress, Gender, Language, PersonName

Phone = Annotated[str, StringConstraints(pattern=r"^\+?[0-9 ()-]{7,20}$")]
Distance = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=32)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class QualifyingResultIn(_In):
    """A confirmed result for 3000 m (reg 4.2.3): distance, time, date, event, evidence link."""

    distance_m: int = Field(gt=0, description="Distance of the result, metres (3000).")
    time_us: int = Field(gt=0, description="The result, integer microseconds.")
    result_date: dt.date = Field(description="Day the result was run.")
    event_name: str = Field(min_length=1, max_length=200, description="Competition it was run at.")
    evidence_url: str = Field(
        pattern=r"^https?://", max_length=500, description="Link to the official result."
    )


class ApplicationCreate(_In):
    """An application for one distance (reg 7.3)."""

    distance: Distance = Field(description="`100m`, `1000m` or `3000m` (reg 4.1).")
    first_name: PersonName
    last_name: PersonName
    gender: Gender
    birth_date: dt.date = Field(description="Age counts on the competition date (reg 5.2).")
    email: EmailAddress
    phone: Phone
    language: Language = "ru"
    city: str | None = Field(default=None, max_length=100)
    club: str | None = Field(default=None, max_length=200)
    qualifying_result: QualifyingResultIn | None = Field(
        default=None, description="Required for 3000 m (reg 4.2.3)."
    )


class ApplicationPublic(BaseModel):
    """An application as its owner sees it (with the personal token only)."""

    registration_id: uuid.UUID
    registration_number: str
    status: str
    distance: str
    first_name: str
    last_name: str
    age_category: str | None
    fee_kzt: int
    hold_expires_at: dt.datetime | None
    bib: int | None
    paid_at: dt.datetime | None
    amount_paid_kzt: int
    qualification_status: str | None
    refusal: dict[str, str] | None
    free_slot_status: str | None
    pending_distance_change: dict[str, object] | None = None
    kit_issued: bool


class ApplicationCreated(ApplicationPublic):
    personal_token: str = Field(
        description="Shown once: send it as `X-Personal-Token` to see or change this entry."
    )


class PaymentStarted(BaseModel):
    payment_id: uuid.UUID
    provider: str
    amount_kzt: int
    currency: Literal["KZT"] = "KZT"
    checkout_url: str
    purpose: str


class DistanceChangeCreate(_In):
    to_distance: Distance
    qualifying_result: QualifyingResultIn | None = None


class FreeSlotRequest(_In):
    """reg 7.13: registration ID, full name, distance and the documents."""

    full_name: str = Field(min_length=1, max_length=200)
    distance: Distance
    documents: list[str] = Field(min_length=1, max_length=10, description="Links to documents.")


class RelayRunnerIn(_In):
    first_name: PersonName
    last_name: PersonName
    gender: Gender
    birth_date: dt.date
    email: EmailAddress


class RelayTeamCreate(_In):
    """RULES §8: a team of 4 in leg order 800/400/200/100."""

    team_name: str = Field(min_length=1, max_length=100)
    captain_first_name: PersonName
    captain_last_name: PersonName
    captain_email: EmailAddress
    captain_phone: Phone
    language: Language = "ru"
    runners: list[RelayRunnerIn] = Field(description="In leg order.")


class LegOrderChange(_In):
    member_ids: list[uuid.UUID] = Field(description="The team's runners in the new leg order.")


class CorporateEntryIn(_In):
    distance: Distance
    first_name: PersonName
    last_name: PersonName
    gender: Gender
    birth_date: dt.date
    email: EmailAddress
    phone: Phone
    language: Language = "ru"
    city: str | None = None
    club: str | None = None


class CorporateContact(_In):
    first_name: PersonName
    last_name: PersonName
    email: EmailAddress
    language: Language = "ru"


class CorporateBatchCreate(_In):
    company_name: str = Field(min_length=1, max_length=200)
    contact: CorporateContact
    entries: list[CorporateEntryIn]


class CorporateBatchConfirm(_In):
    transfer_reference: str = Field(min_length=1, max_length=200)
    amount_kzt: int = Field(ge=0)


class Decision(_In):
    note: str | None = Field(default=None, max_length=2000)


class QualificationRefusal(_In):
    reason: Literal["slower_than_qualifying_time", "older_than_three_years", "evidence_invalid"]
    note: str | None = Field(default=None, max_length=2000)


class FreeSlotRefusal(_In):
    reason: Literal["pool_exhausted", "after_deadline", "documents_insufficient"]


class BanCreate(_In):
    """reg 7.11: a BIB transfer bans both people from the next editions."""

    participant_id: uuid.UUID | None = None
    first_name: PersonName | None = None
    last_name: PersonName | None = None
    birth_date: dt.date | None = None
    from_edition: str | None = Field(default=None, description="Edition of the breach.")
    reason: str = Field(min_length=1, max_length=2000)


class Postponement(_In):
    new_date: dt.date
    reason: str = Field(min_length=1, max_length=2000)


class UnmatchedResolution(_In):
    action: Literal["apply_to_entry", "keep_as_non_refundable"]
    registration_number: str | None = None
    note: str = Field(min_length=1, max_length=2000)


class KitIssue(_In):
    """reg 8.2-8.5: chip scanned, who collected, which documents were seen."""

    chip: str = Field(min_length=1, max_length=64)
    collected_by: Literal["participant", "proxy"]
    proxy_name: str | None = Field(default=None, max_length=200)
    id_document_seen: Literal["original", "electronic"]
    health_acknowledgement_seen: Literal["original", "electronic"]
    chip_pre_paired: bool = False


class RelayKitIssue(_In):
    """The chip scanned for each runner of a relay team (each runner wears one, RULES §8)."""

    chips: dict[uuid.UUID, Annotated[str, StringConstraints(min_length=1, max_length=64)]]


class ClockSet(_In):
    now: dt.datetime
