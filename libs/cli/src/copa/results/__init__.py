"""``copa results``: the judges' desk command line (issue 5), no services needed.

    copa results compute --entries <csv> --times <csv> [--rank-by gun|net]
                         [--categories <spec>] [--out <csv>]
    copa results qualify --by-place K --by-time M [--room N] <round.csv>

Both commands apply the ranking engine (:mod:`copa_ranking.engine`), the same rules the
ranking service applies, to CSV files. Exit codes: 0 done; 1 some input line is bad (every bad
line is reported on standard error with its file and line number, and nothing is written);
2 usage error (a bad option, a file that cannot be read or written).

This module only declares the commands: the engine is imported when one runs, so that
``copa --help`` stays fast.
"""

from __future__ import annotations

import argparse
from typing import Any

EXIT_OK = 0
EXIT_BAD_INPUT = 1
EXIT_USAGE = 2

TIMES_HELP = "h:mm:ss.ffffff, m:ss.ff or seconds"


def add_results_commands(commands: Any) -> None:
    """Register ``results compute`` and ``results qualify`` on the ``copa`` sub-parsers."""
    results = commands.add_parser(
        "results",
        help="results tools for the judges' desk that need no running services",
        description="Places and qualifiers from CSV files, by the rules the ranking service "
        "applies (RULES.md §5, §6). Exit code: 0 done, 1 some input line bad (each reported "
        "on stderr with its line number; no output written), 2 usage error.",
    )
    results_commands = results.add_subparsers(
        title="results commands", required=True, metavar="COMMAND"
    )

    compute = results_commands.add_parser(
        "compute",
        help="places overall, per gender and per category from entries and times",
        description=(
            "Entries CSV: bib,name,gender,age (optional category, club). Times CSV: "
            f"bib,gun_time,net_time,status (times as {TIMES_HELP}; either time may be empty; "
            "status empty, OK, DNS, DNF or `DQ <rule>` such as `DQ 7.12`). Output CSV: "
            "bib,place,gender_place,category,category_place,gun_time,net_time,status in place "
            "order, runners without a place last. Places come from raw times compared at "
            "1/1000 s, equal times sharing a place (1, 2, 2, 4); shown times are rounded UP to "
            "1/100 s (RULES §6), every time of the file in the same form (ss.ff, m:ss.ff or "
            "h:mm:ss.ff, the form of the longest)."
        ),
    )
    compute.add_argument("--entries", required=True, metavar="CSV", help="the entries file")
    compute.add_argument("--times", required=True, metavar="CSV", help="the times file")
    compute.add_argument(
        "--rank-by",
        choices=("gun", "net"),
        default="gun",
        help="gun time (official, reg 11.4; the default) or net time (information)",
    )
    compute.add_argument(
        "--categories",
        type=_categories_spec,
        default=None,
        metavar="SPEC",
        help="age bands such as 18-39,40-44,45-49,80+ applied within each gender; they "
        "replace the entries' category column",
    )
    compute.add_argument(
        "--out", default=None, metavar="CSV", help="write here instead of standard output"
    )
    _edition_option(compute)
    compute.set_defaults(command=_compute)

    qualify = results_commands.add_parser(
        "qualify",
        help="mark the qualifiers of a round: Q by place, q by time",
        description=(
            "Input CSV: race,bib,place,time,status, the results of one round (time as "
            f"{TIMES_HELP}, to any precision). Prints the same rows with a `qualified` column "
            "added: Q (the first K of each race by place), q (the next M fastest by time) or "
            "empty. Ties for the last spot are compared at 1/1000 s; still tied, all go "
            "through if --room allows (no --room: no limit), else lots are drawn from a "
            "recorded seed, one stderr line per lot (RULES §5, WA TR 21)."
        ),
    )
    qualify.add_argument("--by-place", required=True, type=_count, metavar="K")
    qualify.add_argument("--by-time", required=True, type=_count, metavar="M")
    qualify.add_argument(
        "--room",
        type=_count,
        default=None,
        metavar="N",
        help="places in the next round (lanes); K per race plus M may not exceed it; "
        "default: no limit",
    )
    qualify.add_argument(
        "--seed",
        default=None,
        metavar="TEXT",
        help="seed of the lots (default: sha256 of the input file, so the same file draws "
        "the same lots; printed with every lot)",
    )
    _edition_option(qualify)
    qualify.add_argument("round", metavar="ROUND_CSV", help="the round's results, or - for stdin")
    qualify.set_defaults(command=_qualify)


def _edition_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--edition",
        default="2024",
        metavar="CODE",
        help="edition whose time resolutions apply (editions/<CODE>.toml; default: 2024)",
    )


def _compute(args: argparse.Namespace) -> int:
    from copa.results.compute import run_compute

    return run_compute(
        entries=args.entries,
        times=args.times,
        rank_by=args.rank_by,
        categories=args.categories,
        out=args.out,
        edition=args.edition,
    )


def _qualify(args: argparse.Namespace) -> int:
    from copa.results.qualify import run_qualify

    return run_qualify(
        args.round,
        by_place=args.by_place,
        by_time=args.by_time,
        room=args.room,
        seed=args.seed,
        edition=args.edition,
    )


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"cannot be negative: {value}")
    return value


def _categories_spec(text: str) -> tuple[tuple[str, int, int | None], ...]:
    from copa.results.tables import parse_age_bands

    try:
        return parse_age_bands(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


__all__ = ["EXIT_BAD_INPUT", "EXIT_OK", "EXIT_USAGE", "add_results_commands"]
