"""Teams' copies of what registration and ranking publish, and the recomputation they cause.

Every handler is a batch handler (a run of consecutive events of one type): it applies the
run, then recomputes the tables the run may have changed, once. Each is an upsert or a
newest-revision-wins replacement, so events applied in any order, or twice, converge (the
runtime's tracking record already applies each event id once).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from copa_contracts.envelope import Envelope
from copa_contracts.participants import (
    DistanceChanged,
    ParticipantPaid,
    RelayLegOrderChanged,
    RelayTeamRegistered,
)
from copa_contracts.ranking import RaceResultsEvent, StandingsUpdated, StartListPublished
from copa_runtime.errors import PermanentError
from copa_teams.edition import RELAY, codes_for_distance, current_edition
from copa_teams.engine import name_tokens
from copa_teams.models import gender_standings, participants, relay_races, relay_teams
from copa_teams.tables import classifications_holding, recompute


def person_key(edition: str, email: str, full_name: str) -> str:
    """The same person across distances: same e-mail and same name (one e-mail may register a
    family, so the e-mail alone is not a person). A digest: teams never stores the e-mail."""
    material = f"copa-teams/{edition}/{email.strip().casefold()}/{' '.join(name_tokens(full_name))}"
    return hashlib.sha256(material.encode()).hexdigest()


def _ours(edition: str) -> bool:
    return edition == current_edition().code


async def on_paid(session: AsyncSession, run: Sequence[tuple[ParticipantPaid, Envelope]]) -> None:
    """A paid application is a participant (reg 7.3) with a BIB (reg 7.8)."""
    bibs: set[int] = set()
    for event, _ in run:
        if not _ours(event.edition):
            continue
        full_name = f"{event.contact.first_name} {event.contact.last_name}"
        values: dict[str, Any] = {
            "bib": event.bib,
            "distance": event.distance,
            "gender": event.gender,
            "full_name": full_name,
            "person_key": person_key(event.edition, event.contact.email, full_name),
        }
        await session.execute(
            insert(participants)
            .values(participant_id=event.participant_id, **values)
            .on_conflict_do_update(
                index_elements=["participant_id"], set_={**values, "updated_at": func.now()}
            )
        )
        bibs.add(event.bib)
    # A new participant cannot change a stored application (an application never names an
    # unknown BIB); a redelivered one with other data may.
    await recompute(session, await classifications_holding(session, bibs))


async def on_distance_changed(
    session: AsyncSession, run: Sequence[tuple[DistanceChanged, Envelope]]
) -> None:
    """A new distance comes with a new BIB; the old one is lost (reg 7.6). A team entry that
    named the old BIB no longer stands: organizers see the team as invalid."""
    codes: set[str] = set()
    for event, _ in run:
        if not _ours(event.edition):
            continue
        changed = await session.execute(
            participants.update()
            .where(participants.c.participant_id == event.participant_id)
            .values(distance=event.to_distance, bib=event.new_bib, updated_at=func.now())
        )
        if changed.rowcount == 0:  # type: ignore[attr-defined]
            raise PermanentError(f"distance change of unknown participant {event.participant_id}")
        codes |= codes_for_distance(event.from_distance) | codes_for_distance(event.to_distance)
        codes |= await classifications_holding(session, {event.old_bib, event.new_bib})
    await recompute(session, codes)


async def on_standings(
    session: AsyncSession, run: Sequence[tuple[StandingsUpdated, Envelope]]
) -> None:
    """Keep the newest revision of each distance's standings per gender across categories
    (reg 4.2.4: the place among all runners of the gender); older revisions arriving late
    are ignored, category standings are not what teams sum."""
    codes: set[str] = set()
    for event, _ in run:
        if not _ours(event.edition) or event.age_category is not None:
            continue
        values: dict[str, Any] = {
            "revision": event.revision,
            "status": event.status,
            "entrants_count": event.entrants_count,
            "lines": [
                {"participant_id": str(e.participant_id), "place": e.place, "status": e.status}
                for e in event.entries
            ],
        }
        statement = insert(gender_standings).values(
            distance=event.distance, gender=event.gender, **values
        )
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=["distance", "gender"],
                set_={**values, "updated_at": func.now()},
                where=gender_standings.c.revision < statement.excluded.revision,
            )
        )
        codes |= codes_for_distance(event.distance)
    await recompute(session, codes)


async def on_relay_team(
    session: AsyncSession,
    run: Sequence[tuple[RelayTeamRegistered | RelayLegOrderChanged, Envelope]],
) -> None:
    """A relay team entered and paid (RULES §8); a later event may rename it."""
    touched = False
    for event, _ in run:
        if not _ours(event.edition):
            continue
        if isinstance(event, RelayTeamRegistered):
            await session.execute(
                insert(relay_teams)
                .values(relay_team_id=event.relay_team_id, bib=event.bib, team_name=event.team_name)
                .on_conflict_do_update(
                    index_elements=["relay_team_id"],
                    set_={"bib": event.bib, "team_name": event.team_name},
                )
            )
        else:
            await session.execute(
                relay_teams.update()
                .where(relay_teams.c.relay_team_id == event.relay_team_id)
                .values(team_name=event.team_name)
            )
        touched = True
    if touched:
        await recompute(session, {RELAY})


def _is_relay(event: RaceResultsEvent | StartListPublished) -> bool:
    return _ours(event.edition) and (
        event.gender == "X" or event.distance == current_edition().relay.code
    )


async def on_relay_start_list(
    session: AsyncSession, run: Sequence[tuple[StartListPublished, Envelope]]
) -> None:
    """A relay race exists: the relay standings stay provisional until it is official."""
    touched = False
    for event, _ in run:
        if not _is_relay(event):
            continue
        await session.execute(
            insert(relay_races)
            .values(race_id=event.race_id, revision=0, official=False, lines=None)
            .on_conflict_do_nothing()
        )
        touched = True
    if touched:
        await recompute(session, {RELAY})


async def on_race_results(
    session: AsyncSession, run: Sequence[tuple[RaceResultsEvent, Envelope]]
) -> None:
    """A relay race's results, provisional, official or corrected (reg 17: an upheld protest);
    the newest revision of each race wins. Individual races count through the standings."""
    touched = False
    for event, envelope in run:
        if not _is_relay(event):
            continue
        lines = []
        for entry in event.entries:
            if entry.relay_team_id is None:
                raise PermanentError(f"relay race {event.race_id} has a line without a team")
            lines.append(
                {
                    "relay_team_id": str(entry.relay_team_id),
                    "bib": entry.bib,
                    "status": entry.status,
                    "gun_time_us": entry.gun_time_us,
                    "official_time_us": entry.official_time_us,
                }
            )
        values: dict[str, Any] = {
            "revision": event.revision,
            "official": envelope.type != "race-results.provisional",
            "lines": lines,
        }
        statement = insert(relay_races).values(race_id=event.race_id, **values)
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=["race_id"],
                set_=values,
                where=relay_races.c.revision < statement.excluded.revision,
            )
        )
        touched = True
    if touched:
        await recompute(session, {RELAY})
