"""Generic CSV: readers that log to files, and judges' backup timing.

The first non-blank line is the header; it names the columns (case and surrounding spaces
ignored, unknown columns ignored): ``chip`` and/or ``bib`` (at least one), ``time``
(required), and optionally ``location``, ``antenna``, ``seq``, ``rssi``, ``device``.

Decisions:

* ``time`` is an ISO 8601 date and time (``2024-03-17T08:30:00.39`` or with a space; an offset
  or ``Z`` is honoured, none means the device's zone) or a time of day ``HH:MM:SS[.f]`` on the
  race day (``day=``).
* A row needs a chip or a bib. Without a chip column (or with an empty chip), ``chip`` carries
  the bib, and ``bib`` says it is one: the judges' backup sheet names runners, not chips.
* A header without ``time`` or without ``chip``/``bib``, or naming a column twice, is refused,
  and so is every row after it (they cannot be read without it): nothing is dropped unsaid.
* Each physical line is one row (a quoted field cannot span lines), so line numbers are exact.
"""

from __future__ import annotations

import csv

from ._common import (
    Context,
    LineError,
    aware_to_utc,
    clock_us,
    device_of,
    digits,
    iso_datetime,
    local_to_utc,
    on_day,
    signed,
    text_lines,
)
from .model import ParseResult, Passing, Rejection

KNOWN = ("chip", "bib", "time", "location", "antenna", "seq", "rssi", "device")


def _columns(fields: list[str]) -> dict[str, int]:
    columns: dict[str, int] = {}
    for index, name in enumerate(fields):
        key = name.strip().lower()
        if key in KNOWN:
            if key in columns:
                raise LineError(f"column {key!r} is named twice")
            columns[key] = index
    if "time" not in columns:
        raise LineError("header has no 'time' column")
    if "chip" not in columns and "bib" not in columns:
        raise LineError("header has neither a 'chip' nor a 'bib' column")
    return columns


def _row(
    fields: list[str], columns: dict[str, int], text: str, number: int, ctx: Context
) -> Passing:
    if max(columns.values()) >= len(fields):
        raise LineError(f"row has {len(fields)} fields, the header names more")

    def get(key: str) -> str:
        index = columns.get(key)
        return "" if index is None else fields[index].strip()

    chip, bib, time_text = get("chip"), get("bib"), get("time")
    if not chip and not bib:
        raise LineError("row has neither chip nor bib")
    if not time_text:
        raise LineError("row has no time")
    if ":" in time_text and "-" not in time_text and "T" not in time_text:
        at = on_day(ctx.day, clock_us(time_text), ctx.tz)
    else:
        naive, offset = iso_datetime(time_text)
        at = local_to_utc(naive, ctx.tz) if offset is None else aware_to_utc(naive, offset)
    antenna, seq, rssi = get("antenna"), get("seq"), get("rssi")
    own_device = get("device") or None
    return Passing(
        chip=chip or bib,
        at=at,
        kind="read",
        device=device_of(ctx, own_device),
        line=number,
        raw=text,
        antenna=None if antenna == "" else digits(antenna, "antenna"),
        location=get("location") or None,
        seq=None if seq == "" else digits(seq, "seq"),
        seq_scope=own_device,
        rssi=None if rssi == "" else signed(rssi, "rssi"),
        bib=bib or None,
    )


def parse(data: bytes | str, ctx: Context) -> ParseResult:
    reads: list[Passing] = []
    rejected: list[Rejection] = []
    columns: dict[str, int] | None = None
    header_line: int | None = None
    for number, line, decoded in text_lines(data):
        text = line.strip()
        if not text:
            continue
        try:
            if not decoded:
                raise LineError("line is not valid UTF-8 text")
            is_header = header_line is None
            if is_header:
                header_line = number
            fields = next(csv.reader([text]))
            if is_header:
                columns = _columns(fields)
            elif columns is None:
                raise LineError(f"no usable header (line {header_line} was refused)")
            else:
                reads.append(_row(fields, columns, text, number, ctx))
        except LineError as error:
            rejected.append(Rejection(number, text, error.reason))
        except csv.Error as error:
            rejected.append(Rejection(number, text, f"not a CSV line: {error}"))
    return ParseResult("csv", reads, rejected, 0)
