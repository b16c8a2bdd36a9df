"""``copa results compute``: places overall, per gender and per category (issue 5, RULES §6).

The whole file is one field, as in a road race or a timed final: every gender and category
group is placed by time (the engine's :func:`~copa_ranking.engine.place_race` and
:func:`~copa_ranking.engine.group_standings`), the genders by
:func:`~copa_ranking.engine.gender_standings` and everyone together by
:func:`~copa_ranking.engine.rank_by_time`. So places come from the raw times, compared at the
edition's tie resolution (1/1000 s, RULES §5), equal times sharing a place (1, 2, 2, 4), while
the times shown are rounded UP to 1/100 s (RULES §6, WA TR 19). DNF, DQ and DNS have no place
and come last, in that order (RULES §6).

Output times: the gun time shown is the official time (raw gun time rounded up to 1/100 s);
the net time is information (RULES §6) and is shown the same way, so both columns read alike.
Every time of one output uses the same form, the shortest that fits the longest time:
``ss.ff``, ``m:ss.ff`` or ``h:mm:ss.ff`` (``0:09.87`` next to ``1:00.00``). The input parser
reads that form back.

A runner with neither a usable time nor a status (no line in the times file, or an empty gun
time without DNS/DNF/DQ; with ``--rank-by net``, no net time) is listed without a place before
the DNF and a warning names the line: the judges decide, the command does not guess.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, TextIO, get_args

from copa.results import EXIT_OK, EXIT_USAGE
from copa.results.tables import (
    AgeBand,
    Problems,
    Table,
    UnreadableFile,
    parse_bib,
    parse_status,
    parse_time,
    read_table,
    refuse,
)
from copa_contracts.common import Gender
from copa_contracts.edition import AgeCategory, ResultRules, load_edition
from copa_ranking.engine import (
    GroupFormat,
    NoCategoryError,
    Performance,
    RaceGroup,
    Ruling,
    StandingEntry,
    Standings,
    TimeBasis,
    category_among,
    duration_form,
    format_duration,
    gender_standings,
    group_standings,
    place_race,
    rank_by_time,
    round_up,
)

ENTRY_COLUMNS: Final = ("bib", "name", "gender", "age")
TIME_COLUMNS: Final = ("bib", "gun_time", "net_time", "status")
OUTPUT_COLUMNS: Final = (
    "bib",
    "place",
    "gender_place",
    "category",
    "category_place",
    "gun_time",
    "net_time",
    "status",
)
FIELD: Final = "field"
"""The engine's distance code for everyone in the files (one field, as one distance)."""

GENDERS: Final[tuple[Gender, ...]] = get_args(Gender)


@dataclass(frozen=True, slots=True)
class Runner:
    """An entry: who runs, in which gender and category (reg 4.2)."""

    bib: int
    gender: Gender
    category: str
    line: int


@dataclass(frozen=True, slots=True)
class Ranked:
    """One output line before formatting."""

    entry: StandingEntry
    gender_place: int | None
    category_place: int | None


def run_compute(
    *,
    entries: str,
    times: str,
    rank_by: TimeBasis = "gun",
    categories: Sequence[AgeBand] | None = None,
    out: str | None = None,
    edition: str = "2024",
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """The command: read, check, rank, write. Returns the exit code."""
    err = stderr if stderr is not None else sys.stderr
    try:
        rules = load_edition(edition).results
    except (OSError, ValueError) as error:
        err.write(f"copa results: cannot read edition {edition!r}: {error}\n")
        return EXIT_USAGE
    problems = Problems()
    warnings: list[str] = []
    try:
        entries_table = read_table(entries, ENTRY_COLUMNS, problems)
        times_table = read_table(times, TIME_COLUMNS, problems)
    except UnreadableFile as error:
        err.write(f"copa results: {error}\n")
        return EXIT_USAGE
    if entries_table is None or times_table is None:
        return refuse(problems, err)
    runners = read_runners(entries_table, categories, problems)
    # With a bad entries line, "no entry" for its BIB in the times file would only mislead.
    check_entries = not problems
    performances = read_performances(
        times_table, runners, rank_by, problems, warnings, check_entries=check_entries
    )
    if problems:
        return refuse(problems, err)
    for runner in runners.values():
        if runner.bib not in performances:
            warnings.append(
                f"{entries_table.source} line {runner.line}: BIB {runner.bib} has no line in "
                f"{times_table.source}: listed without a place"
            )
            performances[runner.bib] = Performance.awaiting(runner.bib)
    for warning in warnings:
        err.write(f"copa results: warning: {warning}\n")

    ranked = rank_field(list(runners.values()), performances, rules, rank_by)
    lines = format_lines(ranked, rules)
    try:
        if out is None:
            _write(stdout if stdout is not None else sys.stdout, lines)
        else:
            with open(out, "w", encoding="utf-8", newline="") as handle:
                _write(handle, lines)
    except OSError as error:
        err.write(f"copa results: cannot write {out}: {error.strerror or error}\n")
        return EXIT_USAGE
    return EXIT_OK


def rank_field(
    runners: Sequence[Runner],
    performances: dict[int, Performance],
    rules: ResultRules,
    basis: TimeBasis,
) -> list[Ranked]:
    """Places of everyone, per gender, per gender and category, by the engine (RULES §6)."""
    groups: dict[tuple[Gender, str], list[Performance]] = {}
    for runner in runners:
        groups.setdefault((runner.gender, runner.category), []).append(performances[runner.bib])
    category_place: dict[int, int | None] = {}
    tables: dict[Gender, list[Standings]] = {}
    for (gender, category), group_performances in groups.items():
        # Everyone of a group ran in the one field: a timed final of one race (reg 11.3.4).
        race = place_race(f"{gender} {category}", group_performances, rules)
        size = len(group_performances)
        table = group_standings(
            RaceGroup(FIELD, gender, category),
            GroupFormat(size, "timed_final", (size,)),
            [race],
            rules,
        )
        for entry in rank_by_time(table.entries, rules, basis):
            category_place[entry.bib] = entry.place
        tables.setdefault(gender, []).append(table)
    gender_place: dict[int, int | None] = {}
    everyone: list[StandingEntry] = []
    for gender, gender_tables in tables.items():
        overall = gender_standings(FIELD, gender, gender_tables, rules, basis)
        gender_place.update((entry.bib, entry.place) for entry in overall.entries)
        everyone.extend(overall.entries)
    return [
        Ranked(entry, gender_place[entry.bib], category_place[entry.bib])
        for entry in rank_by_time(everyone, rules, basis)
    ]


def format_lines(ranked: Sequence[Ranked], rules: ResultRules) -> list[list[str]]:
    """The output CSV's data lines; times rounded up to 1/100 s, in one form (RULES §6)."""
    resolution = rules.official_time_resolution_us
    shown: list[tuple[int | None, int | None]] = [
        (
            r.entry.official_time_us,
            None if r.entry.net_time_us is None else round_up(r.entry.net_time_us, resolution),
        )
        for r in ranked
    ]
    longest = max((t for pair in shown for t in pair if t is not None), default=0)
    form = duration_form(longest)

    def text(value: int | None) -> str:
        return "" if value is None else format_duration(value, 2, form)

    def number(value: int | None) -> str:
        return "" if value is None else str(value)

    return [
        [
            str(r.entry.bib),
            number(r.entry.place),
            number(r.gender_place),
            r.entry.category,
            number(r.category_place),
            text(gun),
            text(net),
            r.entry.status_text,
        ]
        for r, (gun, net) in zip(ranked, shown, strict=True)
    ]


def read_runners(
    table: Table, bands: Sequence[AgeBand] | None, problems: Problems
) -> dict[int, Runner]:
    """The entries by BIB; each bad line is a problem."""
    categories = (
        None
        if bands is None
        else [
            AgeCategory(gender=gender, code=code, min_age=low, max_age=high)
            for gender in GENDERS
            for code, low, high in bands
        ]
    )
    if categories is None and "category" not in table.columns:
        problems.add(table.source, 1, "no category column: add one or give --categories")
        return {}
    runners: dict[int, Runner] = {}
    for row in table.rows:
        try:
            bib = parse_bib(row.get("bib"))
            gender = _gender(row.get("gender"))
            age = _age(row.get("age"))
            if categories is not None:
                try:
                    category = category_among(categories, gender, age).code
                except NoCategoryError:
                    raise ValueError(
                        f"age {age} is in none of the --categories bands "
                        f"({', '.join(code for code, _, _ in bands or ())})"
                    ) from None
            else:
                category = row.get("category")
                if not category:
                    raise ValueError("empty category (fill it in or give --categories)")
        except ValueError as error:
            problems.add(table.source, row.line, str(error))
            continue
        if bib in runners:
            problems.add(
                table.source,
                row.line,
                f"BIB {bib} is entered twice (also line {runners[bib].line}; reg 7.8)",
            )
            continue
        runners[bib] = Runner(bib, gender, category, row.line)
    return runners


def read_performances(
    table: Table,
    runners: dict[int, Runner],
    basis: TimeBasis,
    problems: Problems,
    warnings: list[str],
    *,
    check_entries: bool = True,
) -> dict[int, Performance]:
    """Each runner's performance from the times file (a judge's status beats any time)."""
    performances: dict[int, Performance] = {}
    line_of: dict[int, int] = {}
    for row in table.rows:
        try:
            bib = parse_bib(row.get("bib"))
            gun = parse_time(row.get("gun_time"), "gun_time")
            net = parse_time(row.get("net_time"), "net_time")
            status, rule = parse_status(row.get("status"))
        except ValueError as error:
            problems.add(table.source, row.line, str(error))
            continue
        if bib in line_of:
            problems.add(table.source, row.line, f"BIB {bib} again (also line {line_of[bib]})")
            continue
        line_of[bib] = row.line
        if check_entries and bib not in runners:
            problems.add(table.source, row.line, f"BIB {bib} has no entry")
            continue
        where = f"{table.source} line {row.line}: BIB {bib}"
        if status != "OK":
            if status in ("DNS", "DNF") and (gun is not None or net is not None):
                warnings.append(f"{where} is {status}: its time is ignored (RULES §6)")
            performances[bib] = Performance.ruled(Ruling(bib, status, rule))
        elif gun is None:
            warnings.append(f"{where} has no gun time and no status: listed without a place")
            performances[bib] = Performance(bib, None, net_time_us=net)
        else:
            if basis == "net" and net is None:
                warnings.append(f"{where} has no net time: listed without a place by net time")
            performances[bib] = Performance.finish(bib, gun, net_time_us=net)
    return performances


def _gender(text: str) -> Gender:
    for gender in GENDERS:
        if text.upper() == gender:
            return gender
    raise ValueError(f"gender must be one of {', '.join(GENDERS)}, got {text!r}")


def _age(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) > 150:
        raise ValueError(f"age must be a whole number of years, got {text!r}")
    return int(text)


def _write(stream: TextIO, lines: list[list[str]]) -> None:
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(OUTPUT_COLUMNS)
    writer.writerows(lines)


__all__ = ["Ranked", "Runner", "format_lines", "rank_field", "run_compute"]
