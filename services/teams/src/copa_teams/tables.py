"""Recomputing and publishing the team tables (reg 4.2.4, RULES §7-§8).

Whenever something a table depends on changes (a standings revision, a corrected relay
result, a participant's distance change, an application), :func:`recompute` rebuilds the
table from teams' own projections with the pure engine and publishes it through the outbox
only if its content changed. The same inputs always give the same document, so a redelivered
or reordered event never publishes again; a new revision number is taken only for new content.

Concurrent recomputations of one classification (the consumer and an application request)
are serialized by a row lock on ``published_tables``, taken before the inputs are read.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from copa_contracts import topics
from copa_contracts.edition import Edition
from copa_contracts.teams import (
    RelayStanding,
    RelayStandingsUpdated,
    TeamEntryScore,
    TeamStanding,
    TeamStandingsUpdated,
)
from copa_runtime.outbox import add_event
from copa_teams import engine
from copa_teams.edition import RELAY, current_edition
from copa_teams.engine.terms import Gender, ResultStatus
from copa_teams.models import (
    gender_standings,
    participants,
    published_tables,
    relay_races,
    relay_teams,
    team_applications,
    team_entries,
)


@dataclass(frozen=True)
class StoredApplication:
    id: uuid.UUID
    classification: str
    team_name: str
    entries: tuple[engine.EntryDeclaration, ...]


@dataclass(frozen=True)
class CheckedApplication:
    application: StoredApplication
    verdict: engine.Verdict


PENDING = "pending"
"""An entry's status in the public table while its distance has no standings of its gender."""


# --- reading the projections -------------------------------------------------------------


async def load_applications(session: AsyncSession, classification: str) -> list[StoredApplication]:
    rows = (
        await session.execute(
            select(
                team_applications.c.id,
                team_applications.c.team_name,
                team_entries.c.full_name,
                team_entries.c.bib,
                team_entries.c.distance,
                team_entries.c.gender,
            )
            .select_from(team_applications.outerjoin(team_entries))
            .where(team_applications.c.classification == classification)
            .order_by(team_applications.c.id, team_entries.c.line)
        )
    ).all()
    grouped: dict[uuid.UUID, tuple[str, list[engine.EntryDeclaration]]] = {}
    for row in rows:
        _, entries = grouped.setdefault(row.id, (row.team_name, []))
        if row.bib is not None:
            entries.append(
                engine.EntryDeclaration(row.full_name, row.bib, row.distance, row.gender)
            )
    return [
        StoredApplication(app_id, classification, name, tuple(entries))
        for app_id, (name, entries) in grouped.items()
    ]


async def participants_by_bib(
    session: AsyncSession, bibs: Iterable[int]
) -> dict[int, engine.Participant]:
    wanted = sorted(set(bibs))
    if not wanted:
        return {}
    rows = (await session.execute(select(participants).where(participants.c.bib.in_(wanted)))).all()
    return {
        row.bib: engine.Participant(
            participant_id=row.participant_id,
            bib=row.bib,
            distance=row.distance,
            gender=cast(Gender, row.gender),
            full_name=row.full_name,
            person_key=row.person_key,
        )
        for row in rows
    }


def check_all(
    rules: engine.ClassificationRules,
    applications: Sequence[StoredApplication],
    runners: Mapping[int, engine.Participant],
) -> list[CheckedApplication]:
    """Re-check every stored application of a classification (deadline aside)."""
    persons: dict[uuid.UUID, set[str]] = {
        app.id: {runners[e.bib].person_key for e in app.entries if e.bib in runners}
        for app in applications
    }
    checked = []
    for app in applications:
        others = {
            key: other.team_name
            for other in applications
            if other.id != app.id
            for key in persons[other.id]
        }
        verdict = engine.check_application(rules, app.entries, runners, others, now=None)
        checked.append(CheckedApplication(app, verdict))
    return checked


async def load_standings(
    session: AsyncSession, distances: Sequence[str]
) -> dict[tuple[str, Gender], engine.GenderStandings]:
    rows = (
        await session.execute(
            select(gender_standings).where(gender_standings.c.distance.in_(list(distances)))
        )
    ).all()
    found: dict[tuple[str, Gender], engine.GenderStandings] = {}
    for row in rows:
        gender = cast(Gender, row.gender)
        found[(row.distance, gender)] = engine.GenderStandings(
            distance=row.distance,
            gender=gender,
            status="official" if row.status == "official" else "provisional",
            entrants_count=row.entrants_count,
            lines=tuple(
                engine.StandingLine(
                    uuid.UUID(line["participant_id"]),
                    line["place"],
                    cast(ResultStatus, line["status"]),
                )
                for line in row.lines
            ),
        )
    return found


# --- building the documents ----------------------------------------------------------------


async def team_document(
    session: AsyncSession, edition: Edition, code: str
) -> tuple[dict[str, Any] | None, list[str]]:
    """The classification's public document, or None and what it waits for."""
    rules = engine.ClassificationRules.of(edition, code)
    applications = await load_applications(session, code)
    runners = await participants_by_bib(session, (e.bib for a in applications for e in a.entries))
    teams = [
        engine.Team(
            item.application.id,
            item.application.team_name,
            tuple(m for m in item.verdict.members if m is not None),
        )
        for item in check_all(rules, applications, runners)
        if item.verdict.state == "complete"
    ]
    table = engine.classify(rules, teams, await load_standings(session, rules.distances))
    if isinstance(table, engine.Waiting):
        return None, [f"{distance}/{gender}" for distance, gender in table.missing]
    return {
        "classification": code,
        "name": rules.name,
        "edition": edition.code,
        "status": table.status,
        "standings": [
            {
                "place": team.place,
                "team_id": str(team.team_id),
                "team_name": team.team_name,
                "points": team.points,
                # The tie-break value: points of the last scorer, the worst-scoring entry (a
                # penalty counts as its points), RULES §7.
                "last_scorer_points": team.last_scorer_points,
                # While standings are pending (provisional, incomplete): entries not scored yet.
                "pending_entries": team.pending_entries,
                "tie_break": team.tie_break,
                "entries": [
                    {
                        "participant_id": str(entry.participant.participant_id),
                        "bib": entry.participant.bib,
                        "full_name": entry.participant.full_name,
                        "distance": entry.participant.distance,
                        "gender": entry.participant.gender,
                        "place": entry.place,
                        "status": PENDING if entry.status is None else entry.status,
                        "points": entry.points,
                        "penalty": entry.penalty,
                    }
                    for entry in team.entries
                ],
            }
            for team in table.standings
        ],
    }, [f"{distance}/{gender}" for distance, gender in table.pending]


async def relay_document(
    session: AsyncSession, edition: Edition
) -> tuple[dict[str, Any] | None, list[str]]:
    races = [
        engine.RelayRace(
            row.race_id,
            row.official,
            None
            if row.lines is None
            else tuple(
                engine.RelayLine(
                    uuid.UUID(line["relay_team_id"]),
                    line["bib"],
                    line["status"],
                    line["gun_time_us"],
                    line["official_time_us"],
                )
                for line in row.lines
            ),
        )
        for row in (await session.execute(select(relay_races))).all()
    ]
    teams = [
        engine.RelayTeam(row.relay_team_id, row.bib, row.team_name)
        for row in (await session.execute(select(relay_teams))).all()
    ]
    table = engine.relay_table(races, teams, edition.relay.prize_fund_kzt)
    if table is None:
        return None, ["relay results"]
    return {
        "classification": RELAY,
        "name": "Relay",
        "edition": edition.code,
        "status": table.status,
        "standings": [
            {
                "place": line.place,
                "relay_team_id": str(line.relay_team_id),
                "team_name": line.team_name,
                "bib": line.bib,
                "status": line.status,
                "official_time_us": line.official_time_us,
                "prize_kzt": line.prize_kzt,
            }
            for line in table.standings
        ],
    }, []


# --- publishing ----------------------------------------------------------------------------


def content_digest(document: Mapping[str, Any]) -> str:
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def recompute(session: AsyncSession, codes: Iterable[str]) -> None:
    """Rebuild the named tables and publish those whose content changed."""
    edition = current_edition()
    for code in sorted(set(codes)):  # one lock order: two recomputations never deadlock
        await session.execute(
            text(
                "INSERT INTO published_tables (classification, revision) VALUES (:c, 0) "
                "ON CONFLICT DO NOTHING"
            ),
            {"c": code},
        )
        current = (
            await session.execute(
                select(published_tables.c.revision, published_tables.c.content_sha256)
                .where(published_tables.c.classification == code)
                .with_for_update()
            )
        ).one()
        if code == RELAY:
            document, waiting = await relay_document(session, edition)
        else:
            document, waiting = await team_document(session, edition, code)
        values: dict[str, Any] = {"waiting_for": waiting}
        # Nothing to say while no team has been classified and nothing was published yet.
        if document is not None and (current.revision > 0 or document["standings"]):
            digest = content_digest(document)
            if digest != current.content_sha256:
                revision = current.revision + 1
                values.update(
                    revision=revision,
                    status=document["status"],
                    content_sha256=digest,
                    document=document,
                    published_at=func.now(),
                )
                await _publish(session, edition, code, document, revision)
        await session.execute(
            published_tables.update()
            .where(published_tables.c.classification == code)
            .values(**values)
        )


async def _publish(
    session: AsyncSession, edition: Edition, code: str, document: Mapping[str, Any], revision: int
) -> None:
    if code == RELAY:
        await add_event(
            session,
            topics.TEAM_STANDINGS,
            RelayStandingsUpdated(
                edition=edition.code,
                status=document["status"],
                revision=revision,
                standings=tuple(RelayStanding(**line) for line in document["standings"]),
            ),
            key=code,
        )
        return
    await add_event(
        session,
        topics.TEAM_STANDINGS,
        TeamStandingsUpdated(
            classification=code,
            edition=edition.code,
            status=document["status"],
            revision=revision,
            standings=tuple(
                TeamStanding(
                    place=team["place"],
                    team_id=team["team_id"],
                    team_name=team["team_name"],
                    points=team["points"],
                    # The contract's name for the points of the last scorer (RULES §7).
                    last_scorer_place=team["last_scorer_points"],
                    tie_break=team["tie_break"],
                    # The contract has no pending entry: a provisional, incomplete table
                    # carries the scored entries only (its points are their sum).
                    entries=tuple(
                        TeamEntryScore(**{k: v for k, v in e.items() if k != "full_name"})
                        for e in team["entries"]
                        if e["status"] != PENDING
                    ),
                )
                for team in document["standings"]
            ),
        ),
        key=code,
    )


async def classifications_holding(session: AsyncSession, bibs: Iterable[int]) -> set[str]:
    """Classifications with an application that names one of ``bibs``."""
    wanted = sorted(set(bibs))
    if not wanted:
        return set()
    rows = await session.execute(
        select(team_applications.c.classification)
        .distinct()
        .join(team_entries)
        .where(team_entries.c.bib.in_(wanted))
    )
    return set(rows.scalars())
