"""Closing entries and drawing the day: race groups, races, lanes, schedule (RULES §5).

Starters are the roster's runners whose kit (with its chip) was collected: the confirmed
starters of reg 11.3 (RULES §5), less anyone banned (7.11). The seed of every group's draw
is recorded, so anyone can re-run the draw and get the same races and lanes.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from copa_ranking.engine import (
    DaySchedule,
    Entrant,
    GroupDraw,
    RaceGroup,
    build_schedule,
    draw_group,
    draw_relay,
    relay_group,
)
from copa_ranking.engine.relay import RELAY_GENDER
from copa_ranking.race_day import (
    _jsonb,
    edition,
    group_races,
    load_race,
    publish_start_list,
    race_id_of,
    set_start_list,
)


class DrawRefused(ValueError):
    """The draw cannot be made now; the message says why."""


@dataclass(frozen=True)
class DrawOutcome:
    groups: int
    races: int
    schedule: DaySchedule
    seed: str


async def _starters(session: AsyncSession) -> dict[RaceGroup, list[tuple[Entrant, str]]]:
    # reg 7.11: a banned runner is disqualified for the competition and starts in no race.
    rows = await session.execute(
        text(
            "SELECT participant_id, bib, gender, distance, category FROM roster "
            "WHERE chip IS NOT NULL AND bib IS NOT NULL AND category IS NOT NULL AND ban IS NULL"
        )
    )
    groups: dict[RaceGroup, list[tuple[Entrant, str]]] = defaultdict(list)
    for row in rows:
        group = RaceGroup(row.distance, row.gender, row.category)
        groups[group].append((Entrant(int(row.bib)), str(row.participant_id)))
    # RULES §8: a relay team starts once every runner collected a chip.
    legs = len(edition().relay.legs_m)
    teams = await session.execute(
        text("SELECT relay_team_id, bib, chips FROM relay_teams WHERE edition = :e"),
        {"e": edition().code},
    )
    for team in teams:
        if len(team.chips) == legs:
            groups[relay_group(edition().relay)].append(
                (Entrant(team.bib), str(team.relay_team_id))
            )
    return groups


def _draw(group: RaceGroup, entrants: list[tuple[Entrant, str]], seed: str) -> GroupDraw:
    if group.gender == RELAY_GENDER:
        return draw_relay(
            [entrant for entrant, _ in entrants], edition().relay, f"{seed}/{group.distance}"
        )
    distance = edition().distance(group.distance)
    return draw_group(
        group,
        [entrant for entrant, _ in entrants],
        distance.division,
        f"{seed}/{group.distance}/{group.gender}/{group.category}",
        edition().lanes if distance.division.in_lanes else None,
    )


def _format_json(draw: GroupDraw) -> dict[str, Any]:
    f = draw.format
    return {
        "starters": f.starters,
        "first_round": f.first_round,
        "race_sizes": list(f.race_sizes),
        "final_size": f.final_size,
    }


async def draw_day(session: AsyncSession, actor: str, seed: str | None = None) -> DrawOutcome:
    """Close entries and draw every group, then lay out the day (reg 11.3, RULES §5)."""
    code = edition().code
    done = (
        await session.execute(
            text("SELECT count(*) FROM race_groups WHERE edition = :e"), {"e": code}
        )
    ).scalar_one()
    if done:
        raise DrawRefused("entries are closed and the draw is made; re-draw a group instead")
    starters = await _starters(session)
    if not starters:
        raise DrawRefused("no confirmed starters: nobody has collected a kit with a chip (reg 8)")
    seed = seed or secrets.token_hex(8)
    draws = {group: _draw(group, entrants, seed) for group, entrants in starters.items()}
    draws = {g: d for g, d in draws.items() if d.races}
    schedule = build_schedule({g: d.format for g, d in draws.items()}, edition())
    participants = {entrant.bib: pid for entrants in starters.values() for entrant, pid in entrants}
    by_group: dict[RaceGroup, list[Any]] = defaultdict(list)
    for scheduled in schedule.races:
        by_group[scheduled.group].append(scheduled)
    count = 0
    for group, draw in draws.items():
        await session.execute(
            text(
                "INSERT INTO race_groups (edition, distance, gender, category, format, seed, "
                "seeding) VALUES (:e, :d, :g, :c, CAST(:f AS jsonb), :s, :k)"
            ),
            {
                "e": code,
                "d": group.distance,
                "g": group.gender,
                "c": group.category,
                "f": _jsonb(_format_json(draw)),
                "s": draw.seed,
                "k": draw.seeding,
            },
        )
        drawn = {(r.round, r.heat_number): r for r in draw.races}
        in_round = len(draw.races)
        for scheduled in by_group[group]:
            race_id = race_id_of(code, group, scheduled.round, scheduled.heat_number)
            await session.execute(
                text(
                    "INSERT INTO races (race_id, edition, distance, gender, category, round, "
                    "heat_number, races_in_round, race_number, scheduled_start_at) VALUES "
                    "(:r, :e, :d, :g, :c, :o, :h, :n, :num, :at)"
                ),
                {
                    "r": race_id,
                    "e": code,
                    "d": group.distance,
                    "g": group.gender,
                    "c": group.category,
                    "o": scheduled.round,
                    "h": scheduled.heat_number,
                    "n": 1 if (scheduled.round, scheduled.heat_number) not in drawn else in_round,
                    "num": scheduled.number,
                    "at": edition().to_utc(scheduled.starts_at),
                },
            )
            race = await load_race(session, race_id)
            if race is not None and (scheduled.round, scheduled.heat_number) in drawn:
                await set_start_list(
                    session, race, drawn[(scheduled.round, scheduled.heat_number)], participants
                )
            count += 1
    await audit(
        session,
        "draw",
        actor,
        {"seed": seed, "groups": len(draws), "races": count, "report": schedule.report()},
    )
    return DrawOutcome(len(draws), count, schedule, seed)


async def publish_schedule(session: AsyncSession, actor: str) -> int:
    """Publish every drawn start list with its time (reg 11.3); returns how many."""
    rows = await session.execute(
        text(
            "SELECT r.race_id, g.seeding, g.seed FROM races r JOIN race_groups g USING "
            "(edition, distance, gender, category) WHERE r.start_list IS NOT NULL "
            "AND NOT r.published ORDER BY r.race_number"
        )
    )
    published = 0
    for row in rows.all():
        race = await load_race(session, row.race_id, lock=True)
        if race is not None:
            await publish_start_list(session, race, row.seeding, row.seed)
            published += 1
    await audit(session, "publish-schedule", actor, {"start_lists": published})
    return published


async def redraw_group(
    session: AsyncSession, group: RaceGroup, actor: str, reason: str, seed: str | None = None
) -> GroupDraw:
    """Draw a group again before any of its races started (RULES §5: audited)."""
    code = edition().code
    row = (
        await session.execute(
            text(
                "SELECT format FROM race_groups WHERE edition = :e AND distance = :d "
                "AND gender = :g AND category = :c FOR UPDATE"
            ),
            {"e": code, "d": group.distance, "g": group.gender, "c": group.category},
        )
    ).first()
    if row is None:
        raise DrawRefused(f"{group}: no such group in the draw")
    races = await group_races(session, code, group)
    started = [r for r in races if r.gun_us is not None or r.lines is not None]
    if started:
        raise DrawRefused(f"{group}: race {started[0].race_number} has started; no re-draw")
    entrants = (await _starters(session)).get(group, [])
    seed = seed or secrets.token_hex(8)
    draw = _draw(group, entrants, seed)
    first = [r for r in races if r.round == draw.format.first_round]
    if len(first) != len(draw.races) or row.format["first_round"] != draw.format.first_round:
        raise DrawRefused(
            f"{group}: {len(entrants)} starters now make {len(draw.races)} race(s) of "
            f"{draw.format.first_round}, the programme has {len(first)}: change the programme"
        )
    await session.execute(
        text(
            "UPDATE race_groups SET format = CAST(:f AS jsonb), seed = :s, seeding = :k, "
            "marks = '{}', drawn_at = now() WHERE edition = :e AND distance = :d AND gender = :g "
            "AND category = :c"
        ),
        {
            "f": _jsonb(_format_json(draw)),
            "s": draw.seed,
            "k": draw.seeding,
            "e": code,
            "d": group.distance,
            "g": group.gender,
            "c": group.category,
        },
    )
    participants = {e.bib: pid for e, pid in entrants}
    for race, drawn in zip(first, draw.races, strict=True):
        locked = await load_race(session, race.race_id, lock=True)
        if locked is None:
            continue
        await set_start_list(session, locked, drawn, participants)
        if locked.published:
            await publish_start_list(session, locked, draw.seeding, draw.seed)
    await audit(
        session, "redraw", actor, {"group": str(group), "seed": draw.seed, "reason": reason}
    )
    return draw


async def audit(session: AsyncSession, action: str, actor: str, detail: dict[str, Any]) -> None:
    await session.execute(
        text("INSERT INTO audit (action, actor, detail) VALUES (:a, :w, CAST(:d AS jsonb))"),
        {"a": action, "w": actor, "d": _jsonb(detail)},
    )


def local(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(edition().zone)
