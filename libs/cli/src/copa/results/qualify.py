"""``copa results qualify``: who goes through from a round (RULES §5, WA TR 21, issue 5).

The engine's :func:`~copa_ranking.engine.select_qualifiers` decides, in WA form: the first K
of each race by the place given in the file (``Q``), then the next M fastest by time across
the races (``q``). Ties for the last spot are compared at 1/1000 s (raw times rounded up,
RULES §5); runners still tied all go through when ``--room`` allows (without ``--room`` the
next round has no limit, as the 1000 m final without lanes); otherwise lots are drawn. The rule
itself, K per race plus M, may not exceed ``--room``: that is a usage error (exit 2).

Lots are reproducible: the seed is ``--seed`` or, by default, ``sha256:`` and the digest of
the input file's bytes, so the same file always draws the same lot and anyone can check it.
Every lot is one line on standard error with the tied BIBs, those drawn and the seed.

The places in the file are the judges' (a photo-finish order may put a runner ahead of a
faster chip time, RULES §6), so they are taken as given; they must form a ranking within
each race (1, 2, 2, 4). The output is the input, row for row and value for value, with the
``qualified`` column added (or replaced).
"""

from __future__ import annotations

import csv
import sys
from dataclasses import dataclass
from typing import Final, TextIO

from copa.results import EXIT_OK, EXIT_USAGE
from copa.results.tables import (
    Problems,
    Table,
    UnreadableFile,
    parse_bib,
    parse_status,
    parse_time,
    read_table,
    refuse,
)
from copa_contracts.edition import ResultRules, load_edition
from copa_ranking.engine import (
    Advancement,
    AdvancementRule,
    EngineError,
    RaceLine,
    RaceResult,
    competition_places,
    official_time_us,
    select_qualifiers,
)

ROUND_COLUMNS: Final = ("race", "bib", "place", "time", "status")
QUALIFIED: Final = "qualified"


@dataclass(frozen=True, slots=True)
class RoundLine:
    """A line of the round: its race, its engine line, where it was read."""

    race_id: str
    line: RaceLine
    at: int


def run_qualify(
    path: str,
    *,
    by_place: int,
    by_time: int,
    room: int | None = None,
    seed: str | None = None,
    edition: str = "2024",
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """The command: read, check, select, write. Returns the exit code."""
    err = stderr if stderr is not None else sys.stderr
    out = stdout if stdout is not None else sys.stdout
    try:
        rules = load_edition(edition).results
    except (OSError, ValueError) as error:
        err.write(f"copa results: cannot read edition {edition!r}: {error}\n")
        return EXIT_USAGE
    problems = Problems()
    try:
        table = read_table(path, ROUND_COLUMNS, problems)
    except UnreadableFile as error:
        err.write(f"copa results: {error}\n")
        return EXIT_USAGE
    if table is None:
        return refuse(problems, err)
    races = read_round(table, rules, problems)
    if problems:
        return refuse(problems, err)
    by_rule = by_place * len(races) + by_time
    if room is not None and by_rule > room:
        # The engine lets the room decide only ties for the last spot (RULES §5); a rule
        # that itself sends more runners than the next round holds is a mistake in the options.
        err.write(
            f"copa results: --by-place {by_place} in each of {len(races)} race(s) plus "
            f"--by-time {by_time} qualify {by_rule}, more than --room {room}\n"
        )
        return EXIT_USAGE
    lot_seed = seed if seed is not None else f"sha256:{table.sha256}"
    try:
        advancement = select_qualifiers(
            races, AdvancementRule(by_place, by_time, room), rules, lot_seed
        )
    except EngineError as error:
        problems.add_file(table.source, str(error))
        return refuse(problems, err)
    for lot in advancement.lots:
        err.write(
            f"copa results: lot: {lot.reason}: tied BIBs {_bibs(lot.tied)}; "
            f"drawn: {_bibs(lot.drawn)}; lot seed {lot.seed!r} (--seed {lot_seed!r})\n"
        )
    _write(out, table, advancement)
    return EXIT_OK


def read_round(table: Table, rules: ResultRules, problems: Problems) -> list[RaceResult]:
    """The races of the round in the order they first appear; each bad line is a problem."""
    by_race: dict[str, list[RoundLine]] = {}
    line_of: dict[int, int] = {}
    for row in table.rows:
        try:
            race_id = row.get("race")
            if not race_id:
                raise ValueError("empty race")
            bib = parse_bib(row.get("bib"))
            status, rule = parse_status(row.get("status"))
            time = parse_time(row.get("time"), "time")
            place_text = row.get("place")
            if status == "OK":
                if time is None:
                    raise ValueError(f"BIB {bib} finished (no status) but has no time")
                if not (place_text.isascii() and place_text.isdigit()) or int(place_text) < 1:
                    raise ValueError(f"a finisher's place is a whole number from 1: {place_text!r}")
                line = RaceLine(
                    int(place_text),
                    bib,
                    "OK",
                    gun_time_us=time,
                    official_time_us=official_time_us(time, rules),
                )
            else:
                if place_text:
                    raise ValueError(f"BIB {bib} is {status} and has no place (RULES §6)")
                line = RaceLine(None, bib, status, dq_rule=rule)
        except ValueError as error:
            problems.add(table.source, row.line, str(error))
            continue
        if bib in line_of:
            problems.add(
                table.source,
                row.line,
                f"BIB {bib} again (also line {line_of[bib]}): one line per runner in a round",
            )
            continue
        line_of[bib] = row.line
        by_race.setdefault(race_id, []).append(RoundLine(race_id, line, row.line))

    races: list[RaceResult] = []
    for race_id, lines in by_race.items():
        finishers = sorted(
            (entry for entry in lines if entry.line.place is not None),
            key=lambda entry: entry.line.place or 0,
        )
        places = [entry.line.place or 0 for entry in finishers]
        expected = competition_places(places, lambda before, after: before == after)
        for entry, place, should in zip(finishers, places, expected, strict=True):
            if place != should:
                problems.add(
                    table.source,
                    entry.at,
                    f"race {race_id}: places {', '.join(map(str, places))} are not a ranking: "
                    f"{should} expected here, not {place} (shared places run 1, 2, 2, 4)",
                )
                break
        races.append(RaceResult(race_id, tuple(entry.line for entry in lines)))
    return races


def _write(out: TextIO, table: Table, advancement: Advancement) -> None:
    marks = {qualifier.bib: qualifier.mark for qualifier in advancement.qualifiers}
    column = table.columns.index(QUALIFIED) if QUALIFIED in table.columns else None
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table.header if column is not None else [*table.header, QUALIFIED])
    for row in table.rows:
        mark = marks.get(int(row.get("bib")), "")
        if column is None:
            writer.writerow([*row.raw, mark])
        else:
            writer.writerow([*row.raw[:column], mark, *row.raw[column + 1 :]])


def _bibs(bibs: tuple[int, ...]) -> str:
    return ", ".join(map(str, bibs)) or "none"


__all__ = ["read_round", "run_qualify"]
