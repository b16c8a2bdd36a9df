"""Reading the judges' CSV files: columns by name, every bad line reported with its number.

Nothing here decides a rule; values are checked and turned into the engine's types (integer
microseconds, BIBs, statuses), and every problem found is collected, so that one run names
all the bad lines of a file instead of the first one only.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal, TextIO

from copa.results import EXIT_BAD_INPUT
from copa_ranking.engine import EngineError, parse_duration_us

Status = Literal["OK", "DNS", "DNF", "DQ"]


class UnreadableFile(Exception):
    """A file that cannot be opened or decoded: a usage error (exit 2)."""


@dataclass
class Problems:
    """Bad input found so far; reported file by file, in line order."""

    found: list[tuple[str, int, str]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    """The files in the order they were read: the order of the report."""

    def add(self, source: str, line: int, message: str) -> None:
        self.found.append((source, line, f"{source} line {line}: {message}"))

    def add_file(self, source: str, message: str) -> None:
        """A problem of a whole file, not of one line."""
        self.found.append((source, 0, f"{source}: {message}"))

    @property
    def messages(self) -> list[str]:
        files = list(dict.fromkeys([*self.files, *(source for source, _, _ in self.found)]))
        ordered = sorted(self.found, key=lambda item: (files.index(item[0]), item[1]))
        return [message for _, _, message in ordered]

    def __bool__(self) -> bool:
        return bool(self.found)


@dataclass(frozen=True, slots=True)
class Row:
    """One data line of a CSV file: its line number and its values by (lower-case) column."""

    line: int
    values: dict[str, str]
    raw: list[str]
    """The fields as they were written, for commands that copy the row out."""

    def get(self, column: str) -> str:
        return self.values.get(column, "").strip()


@dataclass(frozen=True, slots=True)
class Table:
    """A CSV file read: its name for messages, its header as written, its rows."""

    source: str
    header: list[str]
    columns: list[str]
    """The header stripped and in lower case: the names columns are looked up by."""
    rows: list[Row]
    sha256: str
    """Hex digest of the file's bytes: names exactly what was read (a default lot seed)."""


def read_table(path: str, required: Sequence[str], problems: Problems) -> Table | None:
    """Read ``path`` (``-``: standard input); ``None`` when its header is unusable.

    A header is the first non-blank line; names are matched without case or surrounding
    spaces; other columns are allowed and kept. Blank lines are skipped. A line with more
    or fewer fields than the header is reported and left out.
    """
    source = "<stdin>" if path == "-" else path
    problems.files.append(source)
    data = _read_bytes(path)
    text = _decode(path, data)
    reader = csv.reader(io.StringIO(text, newline=""))
    lines: Iterator[list[str]] = iter(reader)
    header: list[str] | None = None
    try:
        for fields in lines:
            if any(value.strip() for value in fields):
                header = fields
                break
    except csv.Error as error:
        problems.add(source, reader.line_num, f"not CSV: {error}")
        return None
    if header is None:
        problems.add(source, 1, f"empty file; expected the header {','.join(required)}")
        return None
    header_line = reader.line_num
    columns = [name.strip().lower() for name in header]
    missing = [name for name in required if name not in columns]
    if missing:
        problems.add(source, header_line, f"missing column(s) {', '.join(missing)}")
    repeated = sorted({name for name in columns if name and columns.count(name) > 1})
    if repeated:
        problems.add(source, header_line, f"column(s) named twice: {', '.join(repeated)}")
    if missing or repeated:
        return None
    rows: list[Row] = []
    while True:
        try:
            fields = next(lines)
        except StopIteration:
            break
        except csv.Error as error:
            problems.add(source, reader.line_num, f"not CSV: {error}")
            break
        if not any(value.strip() for value in fields):
            continue
        if len(fields) != len(columns):
            problems.add(
                source,
                reader.line_num,
                f"{len(fields)} field(s) where the header has {len(columns)}",
            )
            continue
        rows.append(Row(reader.line_num, dict(zip(columns, fields, strict=True)), fields))
    return Table(source, header, columns, rows, hashlib.sha256(data).hexdigest())


def _read_bytes(path: str) -> bytes:
    try:
        return sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as error:
        raise UnreadableFile(f"cannot read {path}: {error.strerror or error}") from None


def _decode(path: str, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")  # a byte-order mark from a spreadsheet is not a name
    except UnicodeDecodeError as error:
        raise UnreadableFile(f"{path} is not UTF-8 text ({error.reason})") from None


def refuse(problems: Problems, err: TextIO) -> int:
    """Report every problem on ``err``; the exit code for bad input (nothing is written)."""
    for message in problems.messages:
        err.write(f"copa results: {message}\n")
    err.write(f"copa results: {len(problems.messages)} problem(s); nothing written\n")
    return EXIT_BAD_INPUT


# --- values ------------------------------------------------------------------------------------


def parse_bib(text: str) -> int:
    """A BIB number (reg 7.8): a whole number from 1."""
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise ValueError(f"bib must be a whole number from 1, got {text!r}")
    return int(text)


def parse_time(text: str, column: str) -> int | None:
    """A duration in integer microseconds, or ``None`` for an empty cell."""
    if not text:
        return None
    try:
        return parse_duration_us(text)
    except EngineError:
        raise ValueError(
            f"{column} {text!r} is not a time (h:mm:ss.ffffff, m:ss.ff or seconds, "
            "at most 6 decimals)"
        ) from None


_DQ: Final = re.compile(r"^DQ(?:\s*\(\s*(?P<paren>[^)]*?)\s*\)|\s+(?P<rule>\S.*?))?\s*$", re.I)
"""``DQ 7.12``, ``DQ TR16.8``, ``DQ (7.12)``; a bare ``DQ`` is refused by :func:`parse_status`."""


def parse_status(text: str) -> tuple[Status, str | None]:
    """``""``/``OK`` (finished), ``DNS``, ``DNF``, or ``DQ <rule>`` (``DQ 7.12``, RULES §6)."""
    word = text.strip().upper()
    if word in {"", "OK"}:
        return "OK", None
    if word in {"DNS", "DNF"}:
        return ("DNS" if word == "DNS" else "DNF"), None
    match = _DQ.match(text.strip())
    if match is not None:
        rule = match.group("paren") or match.group("rule")
        if not rule:
            raise ValueError("a DQ names the rule broken, e.g. `DQ 7.12` or `DQ TR16.8` (RULES §6)")
        return "DQ", rule
    raise ValueError(f"status {text!r} is not one of: empty, OK, DNS, DNF, DQ <rule>")


AgeBand = tuple[str, int, int | None]
"""(code as written, youngest age, oldest age or ``None`` for an open band such as ``80+``)."""

_BAND: Final = re.compile(r"^(\d{1,3})\s*(?:-\s*(\d{1,3})|(\+))$")


def parse_age_bands(spec: str) -> tuple[AgeBand, ...]:
    """``18-39,40-44,45-49,80+``: age bands, in the order given; they may not overlap.

    Gaps are allowed (a runner whose age falls in one is reported); the bands apply within
    each gender (reg 4.2).
    """
    bands: list[AgeBand] = []
    for part in spec.split(","):
        text = part.strip()
        match = _BAND.match(text)
        if match is None:
            raise ValueError(f"age band {text!r} is not like 18-39 or 80+")
        low = int(match.group(1))
        high = None if match.group(3) else int(match.group(2))
        if high is not None and high < low:
            raise ValueError(f"age band {text!r} ends before it starts")
        code = f"{low}+" if high is None else f"{low}-{high}"
        for other, other_low, other_high in bands:
            if low <= (other_high if other_high is not None else low) and other_low <= (
                high if high is not None else other_low
            ):
                raise ValueError(f"age bands {other} and {code} overlap")
        bands.append((code, low, high))
    return tuple(bands)


__all__ = [
    "AgeBand",
    "Problems",
    "Row",
    "Status",
    "Table",
    "UnreadableFile",
    "parse_age_bands",
    "parse_bib",
    "parse_status",
    "parse_time",
    "read_table",
    "refuse",
]
