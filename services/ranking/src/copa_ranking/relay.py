"""Relay teams kept from registration's events (RULES §8): legs in order, and their chips.

Each handler replaces what it carries, so the events converge in any order; the runtime's
tracking record makes each apply once.
"""

from __future__ import annotations

import json

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from copa_contracts.envelope import Envelope
from copa_contracts.participants import (
    RelayLegOrderChanged,
    RelayMember,
    RelayTeamKitIssued,
    RelayTeamRegistered,
)
from copa_ranking.race_day import record_change


def _members(members: tuple[RelayMember, ...]) -> str:
    ordered = sorted(members, key=lambda m: m.leg)
    return json.dumps(
        [
            {"member_id": str(m.member_id), "leg": m.leg, "name": f"{m.first_name} {m.last_name}"}
            for m in ordered
        ]
    )


async def on_registered(
    session: AsyncSession, event: RelayTeamRegistered, envelope: Envelope
) -> None:
    """A paid relay team with its team BIB (RULES §3, §8)."""
    await session.execute(
        text(
            "INSERT INTO relay_teams (relay_team_id, edition, bib, team_name, members, contact) "
            "VALUES (:t, :e, :b, :n, CAST(:m AS jsonb), CAST(:c AS jsonb)) "
            "ON CONFLICT (relay_team_id) DO UPDATE SET bib = :b, team_name = :n, "
            "members = CAST(:m AS jsonb), contact = CAST(:c AS jsonb), updated_at = now()"
        ),
        {
            "t": event.relay_team_id,
            "e": event.edition,
            "b": event.bib,
            "n": event.team_name,
            "m": _members(event.members),
            "c": event.contact.model_dump_json(),
        },
    )
    await record_change(session, "relay-team", str(event.bib), 0)


async def on_leg_order_changed(
    session: AsyncSession, event: RelayLegOrderChanged, envelope: Envelope
) -> None:
    """The captain changed the leg order before the entry deadline (RULES §8)."""
    await session.execute(
        text(
            "UPDATE relay_teams SET members = CAST(:m AS jsonb), updated_at = now() "
            "WHERE relay_team_id = :t"
        ),
        {"t": event.relay_team_id, "m": _members(event.members)},
    )


async def on_kit_issued(
    session: AsyncSession, event: RelayTeamKitIssued, envelope: Envelope
) -> None:
    """Each runner's chip, paired with their leg BIB (reg 8.2, RULES §8)."""
    await session.execute(
        text(
            "UPDATE relay_teams SET chips = CAST(:c AS jsonb), updated_at = now() "
            "WHERE relay_team_id = :t"
        ),
        {
            "t": event.relay_team_id,
            "c": json.dumps({str(c.member_id): str(c.chip) for c in event.chips}),
        },
    )
