"""Race day in ranking's database: each race's result rebuilt from everything known about it.

A race's result is a pure function of its inputs (RULES §6): its start list, the reads of its
chips inside its window, its valid start signal, its latest photo-finish file and the judges'
decisions. :func:`recompute_race` loads those, lets the engine decide, and publishes a new
revision through the outbox only when the result changed; so redelivered events, replays and
recomputations in any order converge on the same result and publish nothing twice.

Every race row is locked (``FOR UPDATE``) while it is recomputed: the timing, roster and
judges' paths may touch one race at once, and its revisions must grow one by one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from copa_contracts import topics
from copa_contracts.edition import Edition, load_edition
from copa_contracts.ranking import (
    JudgesExceptionRaised,
    RaceResultEntry,
    RaceResultsCorrected,
    RaceResultsOfficial,
    RaceResultsProvisional,
    StandingsEntry,
    StandingsUpdated,
    StartListEntry,
    StartListPublished,
    standings_id,
)
from copa_ranking.engine import (
    Advancement,
    AdvancementRule,
    ChipOwner,
    DrawnRace,
    FinishRule,
    GroupFormat,
    JudgesException,
    ManualTime,
    Passing,
    PhotoFinish,
    PhotoPlacing,
    RaceGroup,
    RaceLine,
    RaceResult,
    RaceWindow,
    Ruling,
    StandingEntry,
    Standings,
    collapse_reads,
    detect_finishes,
    draw_final,
    gender_standings,
    group_standings,
    place_race,
    relay_chips,
    relay_finish_rule,
    resolve_performances,
    select_qualifiers,
    slot_minutes,
)
from copa_ranking.engine.relay import RELAY_GENDER
from copa_runtime.outbox import add_event

RACE_NAMESPACE = uuid.UUID("6b1f4a52-6f0e-4c39-9d0b-7d1f1d5e0a11")
EXCEPTION_NAMESPACE = uuid.UUID("0f7c3f4e-2a7b-4b8e-9d55-3c1e3a1f6b20")
BAN_NAMESPACE = uuid.UUID("3d0c5a7e-91b4-4f2a-8c6e-5b7a2e9d4c13")


@cache
def edition() -> Edition:
    """The edition this deployment runs (``COPA_EDITION``, RULES §1): its numbers drive
    every rule here."""
    return load_edition(os.environ.get("COPA_EDITION", "2024"))


def race_id_of(edition_code: str, group: RaceGroup, round_: str, heat: int) -> uuid.UUID:
    """Stable race ids: the same draw of the same group names its races the same way."""
    name = f"{edition_code}/{group.distance}/{group.gender}/{group.category}/{round_}/{heat}"
    return uuid.uuid5(RACE_NAMESPACE, name)


def exception_id_of(
    kind: str, race_id: uuid.UUID | str | None, chip: str | None, bib: int | None
) -> uuid.UUID:
    """One queue entry per doubt: the same doubt seen again is the same exception."""
    return uuid.uuid5(EXCEPTION_NAMESPACE, f"{kind}/{race_id}/{chip}/{bib}")


READ_WINDOW_QUALIFYING_MARGIN = 1.25
"""A qualified runner may run slower on the day than their qualifying time: 25% more."""


def slot_us(distance: str) -> int:
    """How long a race of ``distance`` takes reads after its start: its programme slot, or,
    where it is longer, the slowest qualifying time of the distance with a margin (reg
    4.2.3). The slot is programme time; the window must not cut off the finish of a runner
    the rules admitted (the 2024 3000 m: an 18 min slot, a 19:00 qualifying time for women
    55+), or that finish would be taken for a cool-down and lost."""
    window = slot_minutes(distance, edition()) * 60_000_000
    if distance == edition().relay.code:
        return window
    slowest = max(
        (c.qualifying_time_us or 0 for c in edition().distance(distance).age_categories),
        default=0,
    )
    return max(window, int(slowest * READ_WINDOW_QUALIFYING_MARGIN))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _jsonb(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


# --- rows -----------------------------------------------------------------------------------


@dataclass
class Race:
    """One row of ``races``, as recomputation needs it."""

    race_id: uuid.UUID
    edition: str
    group: RaceGroup
    round: str
    heat_number: int
    races_in_round: int
    race_number: int
    scheduled_start_at: dt.datetime
    start_list: list[dict[str, Any]] | None
    list_revision: int
    published: bool
    gun_us: int | None
    closed: bool
    lines: list[dict[str, Any]] | None
    result_status: str
    result_revision: int

    @property
    def bibs(self) -> list[int]:
        return [int(p["bib"]) for p in self.start_list or ()]

    @property
    def is_relay(self) -> bool:
        return self.group.gender == RELAY_GENDER

    def competitor_of(self, bib: int) -> tuple[uuid.UUID | None, uuid.UUID | None]:
        """(participant_id, relay_team_id) of the BIB on this race's list."""
        for position in self.start_list or ():
            if position["bib"] == bib:
                runner, team = position.get("participant_id"), position.get("relay_team_id")
                return (
                    uuid.UUID(runner) if runner else None,
                    uuid.UUID(team) if team else None,
                )
        return None, None

    def result(self) -> RaceResult | None:
        if self.lines is None:
            return None
        status = "official" if self.result_status == "official" else "provisional"
        return RaceResult(str(self.race_id), lines_from_json(self.lines), status)


_RACE_COLUMNS = (
    "race_id, edition, distance, gender, category, round, heat_number, races_in_round, "
    "race_number, scheduled_start_at, start_list, list_revision, published, gun_us, closed, "
    "lines, result_status, result_revision"
)


def _race(row: Any) -> Race:
    return Race(
        race_id=row.race_id,
        edition=row.edition,
        group=RaceGroup(row.distance, row.gender, row.category),
        round=row.round,
        heat_number=row.heat_number,
        races_in_round=row.races_in_round,
        race_number=row.race_number,
        scheduled_start_at=row.scheduled_start_at,
        start_list=row.start_list,
        list_revision=row.list_revision,
        published=row.published,
        gun_us=row.gun_us,
        closed=row.closed,
        lines=row.lines,
        result_status=row.result_status,
        result_revision=row.result_revision,
    )


async def load_race(
    session: AsyncSession, race_id: uuid.UUID, *, lock: bool = False
) -> Race | None:
    sql = f"SELECT {_RACE_COLUMNS} FROM races WHERE race_id = :r" + (" FOR UPDATE" if lock else "")
    row = (await session.execute(text(sql), {"r": race_id})).first()
    return _race(row) if row else None


async def group_races(session: AsyncSession, edition_code: str, group: RaceGroup) -> list[Race]:
    rows = await session.execute(
        text(
            f"SELECT {_RACE_COLUMNS} FROM races WHERE edition = :e AND distance = :d "
            "AND gender = :g AND category = :c ORDER BY round = 'final', heat_number"
        ),
        {"e": edition_code, "d": group.distance, "g": group.gender, "c": group.category},
    )
    return [_race(row) for row in rows]


def lines_to_json(lines: Iterable[RaceLine]) -> list[dict[str, Any]]:
    return [
        {
            "place": line.place,
            "bib": line.bib,
            "status": line.status,
            "gun_time_us": line.gun_time_us,
            "official_time_us": line.official_time_us,
            "net_time_us": line.net_time_us,
            "source": line.source,
            "order_source": line.order_source,
            "dq_rule": line.dq_rule,
            "reason": line.reason,
        }
        for line in lines
    ]


def lines_from_json(items: Iterable[dict[str, Any]]) -> tuple[RaceLine, ...]:
    return tuple(RaceLine(**item) for item in items)


def format_of(data: dict[str, Any]) -> GroupFormat:
    return GroupFormat(
        data["starters"],
        data["first_round"],
        tuple(data["race_sizes"]),
        data.get("final_size"),
    )


# --- publication ------------------------------------------------------------------------------


async def record_change(session: AsyncSession, kind: str, key: str, revision: int) -> None:
    """What the public API and its live stream learn changed (`public_changes`)."""
    await session.execute(
        text("INSERT INTO public_changes (kind, key, revision) VALUES (:k, :key, :r)"),
        {"k": kind, "key": key, "r": revision},
    )


def _race_event_fields(race: Race, revision: int) -> dict[str, Any]:
    return {
        "race_id": race.race_id,
        "edition": race.edition,
        "distance": race.group.distance,
        "gender": race.group.gender,
        "age_category": race.group.category,
        "round": race.round,
        "heat_number": race.heat_number,
        "revision": revision,
    }


async def publish_start_list(session: AsyncSession, race: Race, seeding: str, seed: str) -> None:
    """A race's start list (reg 11.3) to the bus, as a new revision of the list."""
    revision = race.list_revision + 1
    await session.execute(
        text("UPDATE races SET list_revision = :v, published = true WHERE race_id = :r"),
        {"v": revision, "r": race.race_id},
    )
    race.list_revision, race.published = revision, True
    entries = tuple(
        StartListEntry(
            position=p["position"],
            lane=p.get("lane"),
            participant_id=uuid.UUID(p["participant_id"]) if p.get("participant_id") else None,
            relay_team_id=uuid.UUID(p["relay_team_id"]) if p.get("relay_team_id") else None,
            bib=p["bib"],
            seed_time_us=p.get("seed_time_us"),
        )
        for p in race.start_list or ()
    )
    event = StartListPublished(
        **_race_event_fields(race, revision),
        race_number=race.race_number,
        races_in_round=race.races_in_round,
        scheduled_start_at=race.scheduled_start_at,
        seeding="by_round_1_time"
        if race.round == "final" and race.races_in_round == 1 and seeding != "random_draw"
        else seeding,
        draw_seed=seed,
        entries=entries,
    )
    await add_event(session, topics.START_LISTS, event, key=str(race.race_id))
    await record_change(session, "start-list", str(race.race_id), revision)


async def _marks(session: AsyncSession, race: Race) -> dict[int, str]:
    row = (
        await session.execute(
            text(
                "SELECT marks FROM race_groups WHERE edition = :e AND distance = :d "
                "AND gender = :g AND category = :c"
            ),
            {
                "e": race.edition,
                "d": race.group.distance,
                "g": race.group.gender,
                "c": race.group.category,
            },
        )
    ).first()
    return {int(k): v for k, v in ((row.marks if row else None) or {}).items()}


async def publish_result(
    session: AsyncSession,
    race: Race,
    *,
    actor: str = "ranking",
    reason: str | None = None,
    protest_id: uuid.UUID | None = None,
    confirmed: bool = False,
) -> None:
    """The race's current lines to the bus as a new revision (provisional, official, or a
    correction of an official result: reg 11.3.7, 17.3) and to the result history."""
    revision = race.result_revision + 1
    marks = await _marks(session, race) if race.round == "heat" else {}
    entries = tuple(
        RaceResultEntry(
            place=line["place"],
            participant_id=race.competitor_of(line["bib"])[0],
            relay_team_id=race.competitor_of(line["bib"])[1],
            bib=line["bib"],
            lane=next(
                (p.get("lane") for p in race.start_list or () if p["bib"] == line["bib"]), None
            ),
            status=line["status"],
            dq_rule=line["dq_rule"],
            gun_time_us=line["gun_time_us"],
            official_time_us=line["official_time_us"],
            net_time_us=line["net_time_us"],
            time_source=line["source"],
            qualified=marks.get(line["bib"]) is not None,
        )
        for line in race.lines or ()
        if line["status"] is not None
    )
    fields = _race_event_fields(race, revision)
    started_at = dt.datetime.fromtimestamp(race.gun_us / 1_000_000, dt.UTC) if race.gun_us else None
    event: RaceResultsProvisional | RaceResultsOfficial | RaceResultsCorrected
    if confirmed:
        event = RaceResultsOfficial(
            **fields,
            started_at=started_at,
            entries=entries,
            confirmed_by=actor,
            confirmed_at=_now(),
        )
    elif race.result_status == "official":
        event = RaceResultsCorrected(
            **fields,
            started_at=started_at,
            entries=entries,
            reason=reason or "judges' decision",
            protest_id=protest_id,
            corrected_by=actor,
            corrected_at=_now(),
        )
    else:
        event = RaceResultsProvisional(**fields, started_at=started_at, entries=entries)
    await session.execute(
        text("UPDATE races SET result_revision = :v WHERE race_id = :r"),
        {"v": revision, "r": race.race_id},
    )
    race.result_revision = revision
    await session.execute(
        text(
            "INSERT INTO result_history (race_id, revision, event_type, status, lines, reason) "
            "VALUES (:r, :v, :t, :s, CAST(:l AS jsonb), :why)"
        ),
        {
            "r": race.race_id,
            "v": revision,
            "t": event.event_type,
            "s": race.result_status,
            "l": _jsonb(race.lines or []),
            "why": reason,
        },
    )
    await add_event(session, topics.RESULTS, event, key=str(race.race_id))
    await record_change(session, "race-results", str(race.race_id), revision)


# --- one race ---------------------------------------------------------------------------------


async def valid_gun_us(session: AsyncSession, race_id: uuid.UUID) -> int | None:
    """The start the gun times count from: the last signal not recalled (reg 11.4)."""
    return (
        await session.execute(
            text(
                "SELECT fired_us FROM start_signals WHERE race_id = :r AND NOT recalled "
                "ORDER BY received_seq DESC LIMIT 1"
            ),
            {"r": race_id},
        )
    ).scalar()


async def _photo_finish(
    session: AsyncSession, race: Race
) -> tuple[PhotoFinish | None, list[JudgesException]]:
    row = (
        await session.execute(
            text("SELECT file_name, lines FROM photo_finishes WHERE race_id = :r"),
            {"r": race.race_id},
        )
    ).first()
    if row is None:
        return None, []
    placings: list[PhotoPlacing] = []
    doubts: list[JudgesException] = []
    for line in row.lines:
        competitor = (line.get("competitor_id") or "").strip()
        if not competitor.isdigit():
            doubts.append(
                JudgesException(
                    "photo_finish_unmatched",
                    f"photo-finish file {row.file_name!r}: line with id {competitor!r} is no BIB",
                    race_id=str(race.race_id),
                )
            )
            continue
        finished = line["status"] == "finished"
        placings.append(
            PhotoPlacing(int(competitor), line.get("place"), line.get("time_us"), finished)
        )
    return PhotoFinish(tuple(placings), row.file_name), doubts


@dataclass
class Decisions:
    """The judges' decisions in force for one race: the latest per runner wins (RULES §6)."""

    manual_times: list[ManualTime]
    rulings: list[Ruling]
    judges_order: list[int] | None


async def decisions_of(session: AsyncSession, race: Race) -> Decisions:
    rows = await session.execute(
        text(
            "SELECT kind, bib, payload, reason FROM decisions WHERE race_id = :r "
            "ORDER BY decided_at, decision_id"
        ),
        {"r": race.race_id},
    )
    manual: dict[int, ManualTime | None] = {}
    rulings: dict[int, Ruling | None] = {}
    order: list[int] | None = None
    for row in rows:
        payload = row.payload
        if row.kind == "manual_time":
            manual[row.bib] = ManualTime(
                row.bib, payload["gun_time_us"], row.reason, payload.get("net_time_us")
            )
        elif row.kind == "clear_manual_time":
            manual[row.bib] = None
        elif row.kind == "ruling":
            rulings[row.bib] = Ruling(row.bib, payload["status"], payload.get("rule"), row.reason)
        elif row.kind == "clear_ruling":
            rulings[row.bib] = None
        elif row.kind == "finish_order":
            order = list(payload["bibs"]) or None
    in_race = set(race.bibs)
    return Decisions(
        [m for b, m in manual.items() if m is not None and b in in_race],
        [r for b, r in rulings.items() if r is not None and b in in_race],
        [b for b in order if b in in_race] if order else None,
    )


async def disqualify_in_every_race(
    session: AsyncSession,
    edition_code: str,
    participant_id: uuid.UUID,
    *,
    rule: str,
    reason: str,
    actor: str,
    key: str,
) -> list[uuid.UUID]:
    """A DQ with ``rule`` for the runner in every race of the edition they are drawn in, as a
    judges' decision by ``actor`` with ``reason`` (reg 7.11: disqualified for the competition,
    results cancelled). A race already run is recomputed and published again: a correction
    when it was official (reg 17.3), with the reason in its history. A race not run yet keeps
    the decision for when it runs. ``key`` names the cause, so that it applies once per race.
    Returns the races concerned, in programme order.
    """
    rows = await session.execute(
        text(
            "SELECT race_id FROM races WHERE edition = :e AND start_list @> CAST(:j AS jsonb) "
            "ORDER BY race_number"
        ),
        {"e": edition_code, "j": json.dumps([{"participant_id": str(participant_id)}])},
    )
    race_ids = list(rows.scalars())
    for race_id in race_ids:
        race = await load_race(session, race_id, lock=True)
        if race is None:
            continue
        bib = next(
            p["bib"]
            for p in race.start_list or ()
            if p.get("participant_id") == str(participant_id)
        )
        await session.execute(
            text(
                "INSERT INTO decisions (decision_id, race_id, kind, bib, payload, reason, "
                "decided_by) VALUES (:i, :r, 'ruling', :b, CAST(:p AS jsonb), :why, :w) "
                "ON CONFLICT (decision_id) DO NOTHING"
            ),
            {
                "i": uuid.uuid5(BAN_NAMESPACE, f"{key}/{race_id}"),
                "r": race_id,
                "b": bib,
                "p": _jsonb({"status": "DQ", "rule": rule}),
                "why": reason,
                "w": actor,
            },
        )
        if race.gun_us is not None or race.lines is not None:
            await recompute_race(session, race_id, actor=actor, reason=reason)
    return race_ids


async def _chip_finishes(session: AsyncSession, race: Race, gun_us: int) -> Any:
    owners = {
        row.chip: ChipOwner(row.bib, row.leg, row.finishes)
        for row in await session.execute(
            text("SELECT chip, bib, leg, finishes FROM race_chips WHERE race_id = :r"),
            {"r": race.race_id},
        )
    }
    chips = list(owners)
    closes = gun_us + slot_us(race.group.distance)
    window = RaceWindow(str(race.race_id), gun_us, closes if race.closed else None, owners)
    rows = await session.execute(
        text(
            "SELECT chip, at_us, point, device, seq FROM chip_reads "
            "WHERE chip = ANY(:chips) AND at_us BETWEEN :a AND :b"
        ),
        {"chips": list(chips), "a": gun_us, "b": closes},
    )
    passings = [Passing(r.chip, r.at_us, r.point, r.device, r.seq) for r in rows]
    crossings = collapse_reads(passings, edition().results)
    rule = (
        relay_finish_rule(edition().relay)
        if race.is_relay
        else FinishRule.of(edition().distance(race.group.distance))
    )
    return detect_finishes(window, gun_us, crossings, rule)


async def recompute_race(
    session: AsyncSession,
    race_id: uuid.UUID,
    *,
    actor: str = "ranking",
    reason: str | None = None,
    protest_id: uuid.UUID | None = None,
) -> bool:
    """Rebuild one race's result from its inputs; publish it if it changed (RULES §6).

    Returns whether a new revision was published. An official race changes only by a
    judges' decision (``actor``/``reason``) and then publishes a correction (reg 17.3).
    """
    race = await load_race(session, race_id, lock=True)
    if race is None or race.start_list is None:
        return False
    gun_us = await valid_gun_us(session, race.race_id)
    if gun_us != race.gun_us:
        await session.execute(
            text("UPDATE races SET gun_us = :g WHERE race_id = :r"), {"g": gun_us, "r": race_id}
        )
        race.gun_us = gun_us
    photo, doubts = await _photo_finish(session, race)
    decisions = await decisions_of(session, race)
    chip = None
    if gun_us is not None:
        detection = await _chip_finishes(session, race, gun_us)
        chip = detection.finishes
        doubts += list(detection.exceptions)
    resolution = resolve_performances(
        str(race.race_id),
        race.bibs,
        chip=chip,
        photo=photo,
        manual_times=decisions.manual_times,
        judges_order=decisions.judges_order,
        rulings=decisions.rulings,
        race_over=race.closed,
    )
    doubts += list(resolution.exceptions)
    await raise_exceptions(session, doubts)
    if not any(p.status is not None for p in resolution.performances) and race.lines is None:
        return False
    result = place_race(str(race.race_id), resolution.performances, edition().results)
    lines = lines_to_json(result.lines)
    if lines == race.lines:
        return False
    race.lines = lines
    await session.execute(
        text("UPDATE races SET lines = CAST(:l AS jsonb), result_status = :s WHERE race_id = :r"),
        {
            "l": _jsonb(lines),
            "s": race.result_status if race.result_status == "official" else "provisional",
            "r": race_id,
        },
    )
    if race.result_status != "official":
        race.result_status = "provisional"
    await publish_result(session, race, actor=actor, reason=reason, protest_id=protest_id)
    await update_group(session, race.edition, race.group)
    return True


async def confirm_race(session: AsyncSession, race_id: uuid.UUID, actor: str) -> Race:
    """The chief judge confirms a race: its result becomes official (reg 11.3.7, 15.2).

    Raises ``ValueError`` with the reason when the race cannot be confirmed yet.
    """
    await recompute_race(session, race_id, actor=actor)
    race = await load_race(session, race_id, lock=True)
    if race is None:
        raise LookupError(race_id)
    if race.result_status == "official":
        raise ValueError("the race is already official; corrections go through decisions")
    if race.lines is None:
        raise ValueError("the race has no result yet")
    waiting = [line["bib"] for line in race.lines if line["status"] is None]
    if waiting:
        raise ValueError(
            f"BIB {', '.join(map(str, waiting))} still without a time or a DNS/DNF/DQ (reg 11.3.8)"
        )
    await session.execute(
        text(
            "UPDATE races SET result_status = 'official', closed = true, confirmed_by = :a, "
            "confirmed_at = now() WHERE race_id = :r"
        ),
        {"a": actor, "r": race_id},
    )
    race.result_status, race.closed = "official", True
    await publish_result(session, race, actor=actor, confirmed=True)
    await update_group(session, race.edition, race.group)
    return race


async def raise_exceptions(session: AsyncSession, doubts: Sequence[JudgesException]) -> None:
    """Put each new doubt in the judges' queue once, and announce it (reg 11.3.8)."""
    for doubt in doubts:
        exception_id = exception_id_of(doubt.kind, doubt.race_id, doubt.chip, doubt.bib)
        inserted = (
            await session.execute(
                text(
                    "INSERT INTO judges_exceptions (exception_id, kind, race_id, chip, bib, "
                    "detail) VALUES (:i, :k, :r, :c, :b, :d) ON CONFLICT DO NOTHING "
                    "RETURNING exception_id"
                ),
                {
                    "i": exception_id,
                    "k": doubt.kind,
                    "r": uuid.UUID(doubt.race_id) if doubt.race_id else None,
                    "c": doubt.chip,
                    "b": doubt.bib,
                    "d": doubt.detail,
                },
            )
        ).first()
        if inserted is None:
            continue
        event = JudgesExceptionRaised(
            exception_id=exception_id,
            kind=doubt.kind,
            race_id=uuid.UUID(doubt.race_id) if doubt.race_id else None,
            chip=doubt.chip,
            bib=doubt.bib,
            detail=doubt.detail,
            raised_at=_now(),
        )
        await add_event(session, topics.JUDGES_EXCEPTIONS, event, key=str(exception_id))


# --- a group: qualifiers, the final, standings -------------------------------------------------


async def update_group(session: AsyncSession, edition_code: str, group: RaceGroup) -> None:
    """After a race of ``group`` changed: its Q/q marks, its final's list, its standings.

    Inside :func:`standings_once_per_batch` the standings wait for the end of the batch; the
    marks and the final's list never wait (a later event of the same batch may need them).
    """
    row = await _group_row(session, edition_code, group)
    if row is None:
        return
    group_format = format_of(row.format)
    first_round, final = await _rounds(session, edition_code, group, group_format)
    if group_format.has_final:
        await _advance(session, edition_code, group, row, first_round, final)
    if group.gender == RELAY_GENDER:
        return  # the relay's standings and prizes are the teams service's (RULES §8)
    deferred = session.info.get(_DEFERRED_STANDINGS)
    if deferred is not None:
        deferred[(edition_code, group)] = None
        return
    await _publish_group_standings(session, edition_code, group, group_format, first_round, final)
    await _publish_gender_standings(session, edition_code, group)


_DEFERRED_STANDINGS = "copa_ranking.deferred_standings"


@contextlib.asynccontextmanager
async def standings_once_per_batch(session: AsyncSession) -> AsyncIterator[None]:
    """A consumer batch's scope: each group's table, and each gender's overall table, is
    recomputed and published once when the batch's handlers are done, not after every race
    the batch changed. A batch that catches up on many races (a backlog on race day, a
    restart, a replay) pays once per table; every table it publishes is whole, and the last
    one is the same as race-by-race updates would have left (RULES §6)."""
    pending: dict[tuple[str, RaceGroup], None] = {}
    session.info[_DEFERRED_STANDINGS] = pending
    try:
        yield
    finally:
        del session.info[_DEFERRED_STANDINGS]
    for edition_code, group in pending:
        row = await _group_row(session, edition_code, group)
        if row is not None:
            group_format = format_of(row.format)
            first_round, final = await _rounds(session, edition_code, group, group_format)
            await _publish_group_standings(
                session, edition_code, group, group_format, first_round, final
            )
    genders = {(e, g.distance, g.gender): (e, g) for e, g in pending}
    for edition_code, group in genders.values():
        await _publish_gender_standings(session, edition_code, group)


async def _group_row(session: AsyncSession, edition_code: str, group: RaceGroup) -> Any:
    return (
        await session.execute(
            text(
                "SELECT format, seed, seeding, marks FROM race_groups WHERE edition = :e "
                "AND distance = :d AND gender = :g AND category = :c FOR UPDATE"
            ),
            {"e": edition_code, "d": group.distance, "g": group.gender, "c": group.category},
        )
    ).first()


async def _rounds(
    session: AsyncSession, edition_code: str, group: RaceGroup, group_format: GroupFormat
) -> tuple[list[Race], Race | None]:
    """The group's round-1 races and its final (None without one)."""
    races = await group_races(session, edition_code, group)
    first_round = [r for r in races if r.round == group_format.first_round]
    final = next((r for r in races if r.round == "final" and group_format.has_final), None)
    return first_round, final


async def _publish_group_standings(
    session: AsyncSession,
    edition_code: str,
    group: RaceGroup,
    group_format: GroupFormat,
    first_round: list[Race],
    final: Race | None,
) -> None:
    """The group's table: the final's results, then round 1's (reg 11.3.2, 11.3.3)."""
    run = [result for race in first_round if (result := race.result()) is not None]
    final_result = final.result() if final is not None else None
    standings = group_standings(group, group_format, run, edition().results, final_result)
    await publish_standings(session, edition_code, standings)


async def _advance(
    session: AsyncSession,
    edition_code: str,
    group: RaceGroup,
    group_row: Any,
    heats: list[Race],
    final: Race | None,
) -> None:
    """reg 11.3.2, 11.3.3: the fastest of round 1 run the final, once every heat is in."""
    distance = edition().distance(group.distance)
    results = [h.result() for h in heats]
    complete = [r for r in results if r is not None and r.complete]
    marks: dict[str, str] = {}
    advancement: Advancement | None = None
    if len(complete) == len(heats):
        rule = AdvancementRule.copa(distance.division, edition().lanes)
        advancement = select_qualifiers(
            complete, rule, edition().results, f"{group_row.seed}/qualifiers"
        )
        marks = {str(q.bib): q.mark for q in advancement.qualifiers}
        if final is not None and final.start_list is not None:
            # The final is drawn: a later correction of round 1 (a DQ for a BIB transfer, reg
            # 7.11) takes a qualifier's mark away but moves nobody else up into it.
            finalists = {str(bib) for bib in final.bibs}
            marks = {bib: mark for bib, mark in marks.items() if bib in finalists}
    if marks != group_row.marks:
        await session.execute(
            text(
                "UPDATE race_groups SET marks = CAST(:m AS jsonb), lots = CAST(:l AS jsonb) "
                "WHERE edition = :e AND distance = :d AND gender = :g AND category = :c"
            ),
            {
                "m": _jsonb(marks),
                "l": _jsonb(
                    [
                        {
                            "reason": lot.reason,
                            "tied": list(lot.tied),
                            "drawn": list(lot.drawn),
                            "seed": lot.seed,
                        }
                        for lot in (advancement.lots if advancement else ())
                    ]
                ),
                "e": edition_code,
                "d": group.distance,
                "g": group.gender,
                "c": group.category,
            },
        )
        # The marks are part of each heat's published result: publish them again.
        for heat in heats:
            if heat.lines is not None:
                locked = await load_race(session, heat.race_id, lock=True)
                if locked is not None:
                    await publish_result(session, locked)
    all_official = bool(heats) and all(h.result_status == "official" for h in heats)
    if final is None or final.start_list is not None or not all_official or advancement is None:
        return
    drawn: DrawnRace = draw_final(
        advancement,
        distance.division,
        edition().results,
        f"{group_row.seed}/final",
        edition().lanes if distance.division.in_lanes else None,
    )
    participants = {
        position["bib"]: position.get("participant_id")
        for heat in heats
        for position in heat.start_list or ()
    }
    await set_start_list(session, final, drawn, participants)
    if any(h.published for h in heats):
        await publish_start_list(session, final, "by_round_1_time", f"{group_row.seed}/final")


async def set_start_list(
    session: AsyncSession,
    race: Race,
    drawn: DrawnRace,
    competitors: dict[int, str | None],
) -> None:
    """Store a drawn start list and which chips run in the race (RULES §5, §6, §8)."""
    key = "relay_team_id" if race.is_relay else "participant_id"
    start_list = [
        {
            "position": p.position,
            "bib": p.bib,
            "lane": p.lane,
            "seed_time_us": p.seed_time_us,
            key: competitors.get(p.bib),
        }
        for p in drawn.start_list
    ]
    await session.execute(
        text("UPDATE races SET start_list = CAST(:s AS jsonb) WHERE race_id = :r"),
        {"s": _jsonb(start_list), "r": race.race_id},
    )
    race.start_list = start_list
    await session.execute(text("DELETE FROM race_chips WHERE race_id = :r"), {"r": race.race_id})
    if race.is_relay:
        await _relay_chips(session, race, drawn)
        return
    await session.execute(
        text(
            "INSERT INTO race_chips (chip, race_id, bib) SELECT chip, :r, CAST(bib AS int) "
            "FROM roster WHERE chip IS NOT NULL AND bib = ANY(:bibs)"
        ),
        {"r": race.race_id, "bibs": [str(p.bib) for p in drawn.start_list]},
    )


async def _relay_chips(session: AsyncSession, race: Race, drawn: DrawnRace) -> None:
    """Every runner's chip in leg order; only the last leg's crossing finishes (RULES §8)."""
    rows = await session.execute(
        text("SELECT bib, members, chips FROM relay_teams WHERE bib = ANY(:b)"),
        {"b": list(drawn.bibs)},
    )
    team_chips = {
        row.bib: [row.chips[m["member_id"]] for m in row.members if m["member_id"] in row.chips]
        for row in rows
    }
    for chip, owner in relay_chips(team_chips, edition().relay).items():
        await session.execute(
            text(
                "INSERT INTO race_chips (chip, race_id, bib, leg, finishes) "
                "VALUES (:c, :r, :b, :l, :f)"
            ),
            {"c": chip, "r": race.race_id, "b": owner.bib, "l": owner.leg, "f": owner.finishes},
        )


async def _participants_by_bib(session: AsyncSession, bibs: Iterable[int]) -> dict[int, uuid.UUID]:
    rows = await session.execute(
        text("SELECT bib, participant_id FROM roster WHERE bib = ANY(:b)"),
        {"b": [str(b) for b in bibs]},
    )
    return {int(r.bib): r.participant_id for r in rows}


def _entries_json(standings: Standings) -> list[dict[str, Any]]:
    """The table's rows as stored: each line's fields with its place (a StandingEntry's)."""
    return [{"place": place, **line._asdict()} for place, line in standings.placed()]


async def publish_standings(session: AsyncSession, edition_code: str, standings: Standings) -> None:
    """A standings table to the bus when it changed (RULES §6, reg 11.1-11.3.4)."""
    key = standings_id(edition_code, standings.distance, standings.gender, standings.category)
    entries = _entries_json(standings)
    current = (
        await session.execute(
            text(
                "SELECT revision, status, entries FROM standings WHERE standings_id = :k FOR UPDATE"
            ),
            {"k": key},
        )
    ).first()
    if current is not None and current.entries == entries and current.status == standings.status:
        return
    revision = (current.revision if current else 0) + 1
    await session.execute(
        text(
            "INSERT INTO standings (standings_id, edition, distance, gender, category, status, "
            "revision, entries) VALUES (:k, :e, :d, :g, :c, :s, :v, CAST(:x AS jsonb)) "
            "ON CONFLICT (standings_id) DO UPDATE SET status = :s, revision = :v, "
            "entries = CAST(:x AS jsonb), updated_at = now()"
        ),
        {
            "k": key,
            "e": edition_code,
            "d": standings.distance,
            "g": standings.gender,
            "c": standings.category,
            "s": standings.status,
            "v": revision,
            "x": _jsonb(entries),
        },
    )
    await session.execute(
        text(
            "INSERT INTO standings_history (standings_id, revision, status, entries) "
            "VALUES (:k, :v, :s, CAST(:x AS jsonb))"
        ),
        {"k": key, "v": revision, "s": standings.status, "x": _jsonb(entries)},
    )
    participants = await _participants_by_bib(session, (line.bib for line in standings.lines))
    event = StandingsUpdated(
        standings_id=key,
        edition=edition_code,
        distance=standings.distance,
        gender=standings.gender,
        age_category=standings.category,
        status=standings.status,
        revision=revision,
        entrants_count=standings.entrants_count,
        entries=tuple(
            StandingsEntry(
                place=place,
                participant_id=participants[line.bib],
                bib=line.bib,
                age_category=line.category,
                status=line.status or "DNF",
                dq_rule=line.dq_rule,
                gun_time_us=line.gun_time_us,
                official_time_us=line.official_time_us,
                race_id=uuid.UUID(line.race_id) if line.race_id else None,
            )
            for place, line in standings.placed()
            if line.status is not None and line.bib in participants
        ),
    )
    await add_event(session, topics.STANDINGS, event, key=key)
    await record_change(session, "standings", key, revision)


async def _publish_gender_standings(
    session: AsyncSession, edition_code: str, group: RaceGroup
) -> None:
    """All categories of the distance and gender together (reg 4.2.4, RULES §7)."""
    if group.gender not in ("M", "F"):
        return
    rows = await session.execute(
        text(
            "SELECT category, status, entries FROM standings WHERE edition = :e "
            "AND distance = :d AND gender = :g AND category IS NOT NULL ORDER BY category"
        ),
        {"e": edition_code, "d": group.distance, "g": group.gender},
    )
    tables = [
        Standings.of_entries(
            group.distance,
            group.gender,
            row.category,
            row.status,
            (StandingEntry(**entry) for entry in row.entries),
        )
        for row in rows
    ]
    overall = gender_standings(group.distance, group.gender, tables, edition().results)
    await publish_standings(session, edition_code, overall)
