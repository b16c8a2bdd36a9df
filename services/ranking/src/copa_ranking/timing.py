"""Timing events applied: raw reads, start signals and recalls, photo-finish files (RULES §6).

Every input is stored as it came (ranking can always recompute from its own tables); then each
race it concerns is recomputed in the same transaction, so a result follows its read within
one consumer batch.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from copa_contracts.envelope import Envelope
from copa_contracts.timing import ChipRead, PhotoFinishResultParsed, StartRecalled, StartSignal
from copa_ranking.engine import JudgesException, instant_us
from copa_ranking.race_day import _jsonb, raise_exceptions, recompute_race, slot_us

_STORE_READS = text(
    "INSERT INTO chip_reads (event_id, chip, at_us, point, device, seq) "
    "SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:chips AS text[]), CAST(:ats AS bigint[]), "
    "CAST(:points AS text[]), CAST(:devices AS text[]), CAST(:seqs AS bigint[])) "
    "ON CONFLICT DO NOTHING"
)

# Races a read may belong to: its chip runs there, the race started, and is not official.
_RACES_OF_CHIPS = text(
    "SELECT rc.chip, r.race_id, r.gun_us, r.distance FROM race_chips rc "
    "JOIN races r USING (race_id) WHERE rc.chip = ANY(:chips) AND r.gun_us IS NOT NULL "
    "AND r.result_status <> 'official'"
)


async def on_reads(session: AsyncSession, events: list[tuple[ChipRead, Envelope]]) -> None:
    """A burst of raw reads: stored in one statement, then their races recomputed."""
    reads = [(event, instant_us(event.read_at), envelope) for event, envelope in events]
    await session.execute(
        _STORE_READS,
        {
            "ids": [envelope.event_id for _, _, envelope in reads],
            "chips": [str(event.chip) for event, _, _ in reads],
            "ats": [at for _, at, _ in reads],
            "points": [event.timing_point for event, _, _ in reads],
            "devices": [event.device_id for event, _, _ in reads],
            "seqs": [event.device_sequence or 0 for event, _, _ in reads],
        },
    )
    chips = sorted({str(event.chip) for event, _, _ in reads})
    known = set(
        (
            await session.execute(
                text("SELECT chip FROM roster WHERE chip = ANY(:c)"), {"c": chips}
            )
        ).scalars()
    )
    await raise_exceptions(
        session,
        [
            JudgesException(
                "unknown_chip", f"chip {chip} is paired with no BIB (reg 8.2)", chip=chip
            )
            for chip in chips
            if chip not in known
        ],
    )
    affected: set[uuid.UUID] = set()
    rows = (await session.execute(_RACES_OF_CHIPS, {"chips": chips})).all()
    by_chip: dict[str, list[Any]] = {}
    for row in rows:
        by_chip.setdefault(row.chip, []).append(row)
    strays: dict[str, int] = {}
    for event, at, _ in reads:
        own = [row for row in by_chip.get(str(event.chip), ()) if _in_window(row, at)]
        affected.update(row.race_id for row in own)
        if not own and str(event.chip) in known:
            strays.setdefault(str(event.chip), at)
    for race_id in sorted(affected):
        await recompute_race(session, race_id)
    if strays:
        await _wrong_race(session, strays)


def _in_window(race: Any, at_us: int) -> bool:
    """A race takes reads from its start signal for its programme slot (RULES §5, §6)."""
    return bool(race.gun_us <= at_us <= race.gun_us + slot_us(race.distance))


async def _wrong_race(session: AsyncSession, strays: dict[str, int]) -> None:
    """A runner read while another race runs, whose own race has not started: they run in a
    race they are not drawn in (reg 11.3.5). A runner whose race is over is only cooling down.
    """
    running = (
        await session.execute(
            text(
                "SELECT race_id, gun_us, distance FROM races WHERE gun_us IS NOT NULL "
                "AND NOT closed AND result_status <> 'official'"
            )
        )
    ).all()
    waiting = set(
        (
            await session.execute(
                text(
                    "SELECT rc.chip FROM race_chips rc JOIN races r USING (race_id) "
                    "WHERE rc.chip = ANY(:c) AND r.gun_us IS NULL"
                ),
                {"c": list(strays)},
            )
        ).scalars()
    )
    doubts = []
    for chip, at in sorted(strays.items()):
        if chip not in waiting:
            continue
        for race in running:
            if _in_window(race, at):
                doubts.append(
                    JudgesException(
                        "chip_not_in_race",
                        f"chip {chip} read in race {race.race_id}, which it is not drawn in "
                        "(reg 11.3.5)",
                        race_id=str(race.race_id),
                        chip=chip,
                    )
                )
    await raise_exceptions(session, doubts)


async def on_start(session: AsyncSession, event: StartSignal, envelope: Envelope) -> None:
    """A start signal: the gun times of the race count from the last one not recalled."""
    await session.execute(
        text(
            "INSERT INTO start_signals (signal_id, race_id, fired_us, source) "
            "VALUES (:s, :r, :f, :src) ON CONFLICT DO NOTHING"
        ),
        {
            "s": event.signal_id,
            "r": event.race_id,
            "f": instant_us(event.fired_at),
            "src": event.source,
        },
    )
    await recompute_race(session, event.race_id)


async def on_recall(session: AsyncSession, event: StartRecalled, envelope: Envelope) -> None:
    """A recalled start (WA TR 16.8) no longer counts."""
    await session.execute(
        text("UPDATE start_signals SET recalled = true WHERE signal_id = :s"),
        {"s": event.signal_id},
    )
    await recompute_race(session, event.race_id)


async def on_photo_finish(
    session: AsyncSession, event: PhotoFinishResultParsed, envelope: Envelope
) -> None:
    """The latest photo-finish file of a race replaces the earlier ones (RULES §6)."""
    lines = [line.model_dump(mode="json") for line in event.lines]
    await session.execute(
        text(
            "INSERT INTO photo_finishes (race_id, file_name, file_sha256, lines, received_at) "
            "VALUES (:r, :n, :h, CAST(:l AS jsonb), :at) ON CONFLICT (race_id) DO UPDATE SET "
            "file_name = :n, file_sha256 = :h, lines = CAST(:l AS jsonb), received_at = :at "
            "WHERE photo_finishes.received_at <= :at"
        ),
        {
            "r": event.race_id,
            "n": event.file_name,
            "h": event.file_sha256,
            "l": _jsonb(lines),
            "at": event.received_at,
        },
    )
    await recompute_race(session, event.race_id)
