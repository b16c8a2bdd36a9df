"""Events of the `registration` service: applications, payments, BIBs, kits, bans (reg 7, 8, 16).

Four kinds of entity live here, each on its own topic so that each keeps its own order:

* a participant (one person on one distance), keyed by ``participant_id``: from application to
  kit, every change of one person stays in order on one partition;
* a relay team, keyed by ``relay_team_id`` (RULES §8);
* a corporate batch, keyed by ``corporate_batch_id`` (reg 7.2);
* the edition itself (a postponement, reg 16.1), keyed by ``edition``.

Every participant event carries a :class:`~copa_contracts.common.Contact` so that
`notifications` can write to the person without a lookup; nothing else personal travels (no date
of birth: `registration` turns it into an age category, reg 5.2; no documents, reg 8.3-8.5).
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from copa_contracts.common import (
    ActorId,
    Bib,
    CategoryCode,
    ChipId,
    Contact,
    DistanceCode,
    EditionCode,
    Gender,
    Kzt,
    Microseconds,
    PersonName,
    UtcDatetime,
)
from copa_contracts.envelope import Event

RegistrationNumber = Annotated[str, StringConstraints(min_length=1, max_length=32)]

PaymentMethod = Literal["online", "bank_transfer", "free_slot"]
"""How a slot was paid: online through the provider (7.3), by the company's bank transfer
(7.2), or not at all because a free slot was granted (7.13)."""


class ParticipantEvent(Event):
    """Fields every participant event carries (not an event itself)."""

    participant_id: uuid.UUID = Field(
        description="Registration ID (reg 7.3), issued with the application and kept for life; "
        "the partition key of `registration.participants.v1`."
    )
    registration_number: RegistrationNumber = Field(
        description="The registration ID as the person sees and quotes it in payments (reg 7.7)."
    )
    edition: EditionCode = Field(description="Edition the entry belongs to, e.g. `2024`.")
    contact: Contact = Field(description="Whom `notifications` writes to about this entry.")


class ApplicationReceived(ParticipantEvent):
    """An application got its registration ID (reg 7.3) and holds a slot until paid.

    The slot is held until ``hold_expires_at`` (RULES §3, default 30 min) so that a payment can
    never oversell; a held application is not yet a participant (only a paid one is, 7.3). A
    3000 m application holds nothing yet: the organizer's check of the qualifying result comes
    first (reg 4.2.3), and ``awaiting`` says so.
    """

    event_type: ClassVar[str] = "participant.application-received"

    distance: DistanceCode = Field(description="Distance applied for (reg 4.1).")
    gender: Gender = Field(description="Gender of the runner (reg 4.2).")
    age_category: CategoryCode = Field(
        description="Category by exact age on the competition date (reg 5.2, 4.2.1-4.2.3)."
    )
    fee_kzt: Kzt = Field(description="Entry fee due for the distance (reg 7.5).")
    hold_expires_at: UtcDatetime | None = Field(
        description="When the held slot is released if still unpaid; none when nothing is held "
        "yet (``awaiting`` says why)."
    )
    qualification_required: bool = Field(
        description="The distance needs a qualifying result checked by an organizer before "
        "payment (3000 m, reg 4.2.3)."
    )
    awaiting: Literal["qualification_check", "company_transfer"] | None = Field(
        default=None,
        description="Why no slot is held: the qualifying result waits for an organizer's "
        "check, after which the hold starts and payment opens (3000 m, reg 4.2.3; see "
        "`participant.qualification-accepted`), or the company pays the list by bank transfer "
        "(reg 7.2). None while a slot is held; absent from events published before it existed.",
    )
    corporate_batch_id: uuid.UUID | None = Field(
        default=None, description="Corporate batch the entry belongs to (reg 7.2), if any."
    )


class HoldExpired(ParticipantEvent):
    """An unpaid application's hold ran out and its slot went back to the pool (RULES §3)."""

    event_type: ClassVar[str] = "participant.hold-expired"

    distance: DistanceCode = Field(description="Distance whose slot was released.")
    expired_at: UtcDatetime = Field(description="When the hold ran out.")


class ApplicationRefused(ParticipantEvent):
    """An application will not become a participant; the reason says why, the clause cites it."""

    event_type: ClassVar[str] = "participant.application-refused"

    reason: Literal[
        "registration_closed",
        "capacity_reached",
        "distance_full",
        "under_minimum_age",
        "banned",
        "qualification_refused",
        "duplicate",
    ] = Field(
        description="Why: window closed (7.1), 700 reached (7.1), no slot on the distance (7.6), "
        "under 18 (5.1), banned (7.11), no valid qualifying result (4.2.3), already entered."
    )
    clause: str = Field(description="Regulation clause applied, e.g. `7.1`.", max_length=32)
    detail: str | None = Field(
        default=None, max_length=2000, description="Free text for the applicant."
    )
    refused_at: UtcDatetime = Field(description="When the application was refused.")


class ParticipantPaid(ParticipantEvent):
    """The fee is paid: the application is now a participant with a BIB (reg 7.3, 7.8).

    This is the event that creates the entry everywhere else (`ranking`, `teams`). BIBs come
    from the distance's range and are never reused (RULES §3). A granted free slot (7.13) and a
    confirmed corporate batch (7.2) each produce this event too, with their ``payment_method``.
    """

    event_type: ClassVar[str] = "participant.paid"

    distance: DistanceCode = Field(description="Distance entered (reg 4.1).")
    gender: Gender = Field(description="Gender of the runner (reg 4.2).")
    age_category: CategoryCode = Field(
        description="Category by exact age on the competition date (reg 5.2)."
    )
    bib: Bib = Field(description="BIB number issued on payment (reg 7.8: never changed).")
    amount_kzt: Kzt = Field(description="Amount received; 0 for a free slot (reg 7.13).")
    payment_method: PaymentMethod = Field(description="How the slot was paid.")
    paid_at: UtcDatetime = Field(description="When the payment was accepted.")
    corporate_batch_id: uuid.UUID | None = Field(
        default=None, description="Corporate batch the entry was paid with (reg 7.2), if any."
    )
    club: str | None = Field(
        default=None,
        max_length=200,
        description="City or club the runner gave on the application, shown in start lists.",
    )


class DistanceChanged(ParticipantEvent):
    """A paid participant moved to another distance (reg 7.6).

    The old BIB is lost and a new one of the new distance is issued; the fee is 1,000 KZT plus
    the difference when the new distance is dearer, nothing back when it is cheaper.
    """

    event_type: ClassVar[str] = "participant.distance-changed"

    from_distance: DistanceCode = Field(description="Distance left.")
    to_distance: DistanceCode = Field(description="Distance entered.")
    age_category: CategoryCode = Field(description="Category in the new distance (reg 5.2).")
    old_bib: Bib = Field(description="BIB given up (reg 7.6: the named BIB is lost).")
    new_bib: Bib = Field(description="BIB of the new distance.")
    change_fee_kzt: Kzt = Field(description="Change fee paid (reg 7.6, default 1,000 KZT).")
    fee_difference_kzt: Kzt = Field(
        description="Difference paid towards a dearer distance; 0 when cheaper (reg 7.6: "
        "no refund)."
    )
    changed_at: UtcDatetime = Field(description="When the change took effect.")


class CategoryChanged(ParticipantEvent):
    """The participant's age category changed without a distance change.

    Age counts on the competition date (reg 5.2), so a postponement (16.1) can move a person
    into the next category; an organizer may also correct a wrong date of birth.
    """

    event_type: ClassVar[str] = "participant.category-changed"

    distance: DistanceCode = Field(description="Distance of the entry.")
    from_category: CategoryCode = Field(description="Category before.")
    to_category: CategoryCode = Field(description="Category now.")
    reason: Literal["edition_postponed", "correction"] = Field(
        description="Why: a new competition date (16.1) or an organizer's correction."
    )
    changed_at: UtcDatetime = Field(description="When the change took effect.")


class FreeSlotGranted(ParticipantEvent):
    """An organizer granted a free slot to a participant with a disability (reg 7.13).

    Followed by ``participant.paid`` with ``payment_method = "free_slot"`` and amount 0 when
    the entry was not paid before (reg 7.7: what was paid stays paid).
    """

    event_type: ClassVar[str] = "participant.free-slot-granted"

    distance: DistanceCode = Field(description="Distance of the free slot.")
    granted_by: ActorId = Field(description="Organizer who granted it.")
    granted_at: UtcDatetime = Field(description="When it was granted.")
    pool_remaining: int = Field(ge=0, description="Free slots left in the pool (default 20).")


class FreeSlotRefused(ParticipantEvent):
    """A free-slot request was refused (reg 7.13: the pool is limited)."""

    event_type: ClassVar[str] = "participant.free-slot-refused"

    reason: Literal["pool_exhausted", "after_deadline", "documents_insufficient"] = Field(
        description="Why: no free slot left, applied on or after the deadline (2024-03-01), "
        "or the documents do not confirm the disability."
    )
    refused_by: ActorId = Field(description="Organizer who refused.")
    refused_at: UtcDatetime = Field(description="When it was refused.")


class QualificationAccepted(ParticipantEvent):
    """An organizer verified the evidence of a qualifying result (reg 4.2.3, 3000 m): the
    slot is now held and the fee can be paid until ``hold_expires_at``."""

    event_type: ClassVar[str] = "participant.qualification-accepted"

    distance: DistanceCode = Field(description="Distance the qualification is for.")
    result_time_us: Microseconds = Field(description="The confirmed result's time.")
    qualifying_time_us: Microseconds = Field(
        description="Qualifying time of the applicant's category it was compared with."
    )
    result_date: date = Field(description="Date of the result (within 3 years, reg 4.2.3).")
    accepted_by: ActorId = Field(description="Organizer who verified the evidence.")
    accepted_at: UtcDatetime = Field(description="When it was verified.")
    hold_expires_at: UtcDatetime | None = Field(
        default=None,
        description="The slot is held for payment from now on and released if still unpaid "
        "at this instant (RULES §3, default 30 min); absent from events published before it "
        "existed.",
    )


class QualificationRefused(ParticipantEvent):
    """A qualifying result was not accepted (reg 4.2.3); the applicant may submit another."""

    event_type: ClassVar[str] = "participant.qualification-refused"

    distance: DistanceCode = Field(description="Distance the qualification is for.")
    reason: Literal["slower_than_qualifying_time", "older_than_three_years", "evidence_invalid"] = (
        Field(description="Which condition of reg 4.2.3 failed.")
    )
    result_time_us: Microseconds | None = Field(description="The claimed result's time, if any.")
    qualifying_time_us: Microseconds = Field(description="Qualifying time of the category.")
    refused_by: ActorId | None = Field(
        description="Organizer who refused; none when the automatic check failed."
    )
    refused_at: UtcDatetime = Field(description="When it was refused.")


class KitIssued(ParticipantEvent):
    """The starter kit was handed out and the chip paired with the BIB (reg 8.1-8.5).

    This is what makes a participant a starter (7.9: no BIB, no start): `ranking` counts "N"
    of a race group from these events and maps chip reads to BIBs with ``chip``.
    """

    event_type: ClassVar[str] = "participant.kit-issued"

    bib: Bib = Field(description="BIB in the kit (reg 8.2).")
    chip: ChipId = Field(description="Timing chip paired with the BIB (reg 8.2).")
    chip_pre_paired: bool = Field(
        description="The chip was paired before the kit day instead of scanned at issue."
    )
    collected_by_proxy: bool = Field(
        description="Someone else collected it with the participant's ID (reg 8.5)."
    )
    issued_at: UtcDatetime = Field(description="When the kit was handed out.")


class ParticipantBanned(ParticipantEvent):
    """The person may not enter the next editions (reg 7.11: BIB transfer, 3 editions)."""

    event_type: ClassVar[str] = "participant.banned"

    clause: str = Field(description="Clause applied, e.g. `7.11`.", max_length=32)
    reason: str = Field(description="What happened, for the record.", max_length=2000)
    editions_banned: int = Field(ge=1, description="Number of following editions (7.11: 3).")
    banned_by: ActorId = Field(description="Organizer who recorded the ban.")
    banned_at: UtcDatetime = Field(description="When the ban was recorded.")


# --- relay teams (RULES §8) ---------------------------------------------------------------


class RelayMember(BaseModel):
    """One runner of a relay team and the leg they run."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    member_id: uuid.UUID = Field(
        description="Stable id of the runner within the team; the chip follows the runner."
    )
    leg: int = Field(ge=1, description="Leg number, 1 first.")
    leg_distance_m: int = Field(gt=0, description="Length of the leg (800, 400, 200, 100 m).")
    first_name: PersonName = Field(description="Given name.")
    last_name: PersonName = Field(description="Family name.")
    gender: Gender = Field(description="Gender of the runner.")
    participant_id: uuid.UUID | None = Field(
        default=None, description="The runner's individual entry, if they have one too."
    )
    leg_bib: str | None = Field(
        default=None,
        max_length=16,
        description="BIB the runner wears: the team BIB with the leg suffix, `<bib>-<leg>` "
        "(RULES §3).",
    )


def _check_legs(members: tuple[RelayMember, ...]) -> None:
    legs = [m.leg for m in members]
    if sorted(legs) != list(range(1, len(legs) + 1)):
        raise ValueError(f"legs must be numbered 1..{len(legs)} once each, got {legs}")
    ids = [m.member_id for m in members]
    if len(set(ids)) != len(ids):
        raise ValueError("a runner may run only one leg")


class RelayTeamEvent(Event):
    """Fields every relay-team event carries (not an event itself)."""

    relay_team_id: uuid.UUID = Field(
        description="Id of the team entry; the partition key of `registration.relay-teams.v1`."
    )
    registration_number: RegistrationNumber = Field(description="Registration ID of the team.")
    edition: EditionCode = Field(description="Edition the team is entered in.")
    team_name: str = Field(min_length=1, max_length=100, description="Public team name.")
    contact: Contact = Field(description="The team's captain: whom `notifications` writes to.")


class RelayTeamRegistered(RelayTeamEvent):
    """A relay team is entered and paid (RULES §8: teams of 4, legs 800/400/200/100 m).

    The relay analogue of ``participant.paid``: unpaid team applications stay inside
    `registration`; this event creates the team for `ranking` and `teams`.
    """

    event_type: ClassVar[str] = "relay-team.registered"

    bib: Bib = Field(description="Team BIB (default range 5001-5999); legs wear `<bib>-<leg>`.")
    members: tuple[RelayMember, ...] = Field(
        min_length=1, description="Runners in leg order (4 in the default edition)."
    )
    amount_kzt: Kzt = Field(description="Team fee received (default 20,000 KZT).")
    payment_method: PaymentMethod = Field(description="How the team fee was paid.")
    paid_at: UtcDatetime = Field(description="When the payment was accepted.")

    @model_validator(mode="after")
    def _legs_once_each(self) -> Self:
        _check_legs(self.members)
        return self


class RelayLegOrderChanged(RelayTeamEvent):
    """The team changed who runs which leg (or replaced a runner) before the race."""

    event_type: ClassVar[str] = "relay-team.leg-order-changed"

    members: tuple[RelayMember, ...] = Field(
        min_length=1, description="The whole team in its new leg order."
    )
    changed_at: UtcDatetime = Field(description="When the change took effect.")

    @model_validator(mode="after")
    def _legs_once_each(self) -> Self:
        _check_legs(self.members)
        return self


class RelayMemberChip(BaseModel):
    """A chip handed to one relay runner (each runner wears one, RULES §8)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    member_id: uuid.UUID = Field(description="Runner the chip belongs to.")
    chip: ChipId = Field(description="Timing chip paired with the runner's leg BIB.")


class RelayTeamKitIssued(RelayTeamEvent):
    """The team's kits were handed out: one chip per runner, paired with the leg BIBs (reg 8)."""

    event_type: ClassVar[str] = "relay-team.kit-issued"

    bib: Bib = Field(description="Team BIB.")
    chips: tuple[RelayMemberChip, ...] = Field(min_length=1, description="Chip of each runner.")
    issued_at: UtcDatetime = Field(description="When the kits were handed out.")


# --- corporate batches (reg 7.2) and the edition (reg 16.1) ------------------------------------


class CorporateBatchConfirmed(Event):
    """An organizer confirmed a company's bank transfer for a whole list of entries (reg 7.2).

    One ``participant.paid`` (``payment_method = "bank_transfer"``) follows for each entry on
    the participants topic; this event is the batch's own record, for the company's contact.
    """

    event_type: ClassVar[str] = "corporate-batch.confirmed"

    corporate_batch_id: uuid.UUID = Field(description="Id of the batch; the partition key.")
    edition: EditionCode = Field(description="Edition the batch is entered in.")
    company_name: str = Field(min_length=1, max_length=200, description="Company paying.")
    participant_ids: tuple[uuid.UUID, ...] = Field(
        min_length=1, description="Entries paid by the batch (more than 30, reg 7.2)."
    )
    amount_kzt: Kzt = Field(description="Amount of the bank transfer confirmed.")
    confirmed_by: ActorId = Field(description="Organizer who confirmed the transfer.")
    confirmed_at: UtcDatetime = Field(description="When it was confirmed.")
    contact: Contact = Field(description="The company's representative.")


class EditionPostponed(Event):
    """The competition moved to a new date (reg 16.1); entries and fees move with it.

    The config file keeps the planned date; the running system takes the new one from this
    event (RULES §1). Every participant is told by e-mail.
    """

    event_type: ClassVar[str] = "edition.postponed"

    edition: EditionCode = Field(description="Edition postponed; the partition key.")
    previous_date: date = Field(description="Date it was to be held (local).")
    new_date: date = Field(description="New date (local).")
    reason: str = Field(max_length=2000, description="Announcement text (reg 16.1).")
    announced_by: ActorId = Field(description="Organizer who announced it.")
    announced_at: UtcDatetime = Field(description="When it was announced.")


# --- payments that need an organizer (reg 7.7, RULES §3) --------------------------------------


class PaymentNeedsAttention(Event):
    """Money arrived that could not be applied to an entry: it is recorded, never dropped.

    RULES §3: a callback for an unknown ID, a wrong amount, or an expired hold whose slot is
    gone is put in front of an organizer (reg 7.7 makes the money non-refundable, so it must be
    seen). Keyed by the provider's transaction, which is applied at most once.
    """

    event_type: ClassVar[str] = "payment.needs-attention"

    transaction_key: str = Field(
        min_length=1,
        max_length=200,
        description="`<provider>:<transaction id>`: the partition key; one per provider payment.",
    )
    edition: EditionCode = Field(description="Edition the payment was received for.")
    provider: str = Field(min_length=1, max_length=32, description="Payment provider's name.")
    reason: Literal[
        "unknown_id", "wrong_amount", "hold_expired_sold_out", "already_paid", "not_payable"
    ] = Field(
        description="Why it could not be applied: no such payment or registration ID, an "
        "amount other than the one due, the hold expired and the slot is gone (RULES §3), the "
        "entry was paid already, or the entry cannot be paid (refused)."
    )
    amount_kzt: Kzt | None = Field(
        description="Amount received in whole tenge; none when it was not a whole KZT amount."
    )
    amount_received: str = Field(
        max_length=64, description="Amount and currency exactly as the provider sent them."
    )
    expected_kzt: Kzt | None = Field(
        default=None, description="Amount that was due, when the payment was matched."
    )
    participant_id: uuid.UUID | None = Field(
        default=None, description="The entry the payment names, when it names one."
    )
    relay_team_id: uuid.UUID | None = Field(
        default=None, description="The relay team the payment names, when it names one."
    )
    registration_number: RegistrationNumber | None = Field(
        default=None, description="Registration ID the payer quoted, if any (reg 7.7)."
    )
    received_at: UtcDatetime = Field(description="When the callback arrived.")


PAYMENT_EVENTS: tuple[type[Event], ...] = (PaymentNeedsAttention,)

PARTICIPANT_EVENTS: tuple[type[Event], ...] = (
    ApplicationReceived,
    HoldExpired,
    ApplicationRefused,
    ParticipantPaid,
    DistanceChanged,
    CategoryChanged,
    FreeSlotGranted,
    FreeSlotRefused,
    QualificationAccepted,
    QualificationRefused,
    KitIssued,
    ParticipantBanned,
)
RELAY_TEAM_EVENTS: tuple[type[Event], ...] = (
    RelayTeamRegistered,
    RelayLegOrderChanged,
    RelayTeamKitIssued,
)
CORPORATE_BATCH_EVENTS: tuple[type[Event], ...] = (CorporateBatchConfirmed,)
EDITION_EVENTS: tuple[type[Event], ...] = (EditionPostponed,)

__all__ = [
    "CORPORATE_BATCH_EVENTS",
    "EDITION_EVENTS",
    "PARTICIPANT_EVENTS",
    "PAYMENT_EVENTS",
    "RELAY_TEAM_EVENTS",
    "ApplicationReceived",
    "ApplicationRefused",
    "CategoryChanged",
    "CorporateBatchConfirmed",
    "DistanceChanged",
    "EditionPostponed",
    "FreeSlotGranted",
    "FreeSlotRefused",
    "HoldExpired",
    "KitIssued",
    "ParticipantBanned",
    "ParticipantEvent",
    "ParticipantPaid",
    "PaymentMethod",
    "PaymentNeedsAttention",
    "QualificationAccepted",
    "QualificationRefused",
    "RelayLegOrderChanged",
    "RelayMember",
    "RelayMemberChip",
    "RelayTeamEvent",
    "RelayTeamKitIssued",
    "RelayTeamRegistered",
]
