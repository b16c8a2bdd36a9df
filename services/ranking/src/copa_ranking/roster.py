"""Ranking's roster: who runs, with which BIB and chip, kept from registration's events.

Each handler is an upsert, so applying one in any order with the others converges; the
runtime's tracking record already makes each event apply once.
"""

from __future__ import annotations

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from copa_contracts.envelope import Envelope
from copa_contracts.participants import DistanceChanged, KitIssued, ParticipantPaid
from copa_ranking.models import RosterEntry

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


async def on_kit_issued(session: AsyncSession, event: KitIssued, envelope: Envelope) -> None:
    """The chip is paired with the BIB when the kit is issued (reg 8.2)."""
    await session.execute(
        roster.update()
        .where(roster.c.participant_id == event.participant_id)
        .values(chip=str(event.chip), updated_at=func.now())
    )
