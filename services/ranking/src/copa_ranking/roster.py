"""Ranking's roster: who runs, with which BIB and chip, kept from registration's events.

Each handler is an upsert, so applying one in any order with the others converges; the
runtime's tracking record already makes each event apply once.
"""

from __future__ import annotations

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from copa_contracts.envelope import Envelope
from copa_contracts.participants import (
    CategoryChanged,
    DistanceChanged,
    KitIssued,
    ParticipantBanned,
    ParticipantPaid,
)
from copa_ranking.models import RosterEntry
from copa_ranking.race_day import disqualify_in_every_race, record_change

roster = RosterEntry.__table__  # type: ignore[attr-defined]


async def on_paid(session: AsyncSession, event: ParticipantPaid, envelope: Envelope) -> None:
    """A paid application is a participant (reg 7.3) with a BIB (7.8)."""
    values = {
        "participant_id": event.participant_id,
        "bib": str(event.bib),
        "full_name": f"{event.contact.first_name} {event.contact.last_name}",
        "gender": event.gender,
        "distance": event.distance,
        "category": event.age_category,
        # Kept for the protest's answer (reg 17.3); never shown by the public API (RULES §10).
        "contact": event.contact.model_dump(mode="json"),
        "club": event.club,
    }
    await session.execute(
        insert(roster)
        .values(**values)
        .on_conflict_do_update(
            index_elements=["participant_id"],
            set_={
                **{k: v for k, v in values.items() if k != "participant_id"},
                "updated_at": func.now(),
            },
        )
    )
    await record_change(session, "participant", str(event.bib), 0)


async def on_distance_changed(
    session: AsyncSession, event: DistanceChanged, envelope: Envelope
) -> None:
    """A new distance comes with a new BIB; the old one is lost (reg 7.6)."""
    await session.execute(
        roster.update()
        .where(roster.c.participant_id == event.participant_id)
        .values(
            distance=event.to_distance,
            bib=str(event.new_bib),
            category=event.age_category,
            updated_at=func.now(),
        )
    )
    await record_change(session, "participant", str(event.new_bib), 0)


async def on_kit_issued(session: AsyncSession, event: KitIssued, envelope: Envelope) -> None:
    """The chip is paired with the BIB when the kit is issued (reg 8.2)."""
    await session.execute(
        roster.update()
        .where(roster.c.participant_id == event.participant_id)
        .values(chip=str(event.chip), updated_at=func.now())
    )
    await record_change(session, "participant", str(event.bib), 0)


async def on_category_changed(
    session: AsyncSession, event: CategoryChanged, envelope: Envelope
) -> None:
    """Age counts on the competition date (reg 5.2): a postponement (16.1) or a correction
    moves the runner to another category, so to another race group at the draw (RULES §5).

    A runner already drawn stays in the races drawn: moving them means re-drawing both
    groups, which is the organizer's decision (the re-draw takes the new category).
    """
    bib = (
        await session.execute(
            roster.update()
            .where(roster.c.participant_id == event.participant_id)
            .values(category=event.to_category, updated_at=func.now())
            .returning(roster.c.bib)
        )
    ).scalar()
    if bib is not None:
        await record_change(session, "participant", bib, 0)


async def on_banned(session: AsyncSession, event: ParticipantBanned, envelope: Envelope) -> None:
    """reg 7.11 (a BIB transfer): the runner is disqualified for this competition and their
    results are cancelled: DQ with the clause in every race they are drawn in, by the
    organizer who recorded the ban; banned before the draw, they are drawn in none."""
    bib = (
        await session.execute(
            roster.update()
            .where(roster.c.participant_id == event.participant_id)
            .values(
                ban={
                    "clause": event.clause,
                    "reason": event.reason,
                    "banned_by": event.banned_by,
                    "banned_at": event.banned_at.isoformat(),
                },
                updated_at=func.now(),
            )
            .returning(roster.c.bib)
        )
    ).scalar()
    await disqualify_in_every_race(
        session,
        event.edition,
        event.participant_id,
        rule=event.clause,
        reason=event.reason,
        actor=event.banned_by,
        # The same ban redelivered, or replayed as a new event, decides once per race.
        key=f"ban/{event.participant_id}/{event.clause}/{event.banned_at.isoformat()}",
    )
    if bib is not None:
        await record_change(session, "participant", bib, 0)
