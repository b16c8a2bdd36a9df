"""FinishLynx ``.lif`` photo-finish result files (ASCII/cp1252, comma separated, CRLF or LF).

Sources: TIMING-FORMATS.md; the LIF description collected in ``basrijn/regatta_data``
(README, "FinishLynx results format (.LIF)")::

    header:  event, round, heat, event name, wind, wind unit, template file, ?, ?, distance,
             start time (time of day)
    athlete: place, id, lane, last name, first name, affiliation, time, license, delta time,
             reaction time, splits..., time trial start time, user 1, user 2, user 3

Decisions:

* Header: at least event, round and heat (integers) and the name; the other fields are taken by
  position when present, empty ones are ``None``. A bad header is refused on line 1 and the
  athlete lines are still read (``header`` is then ``None``).
* Athlete lines need at least 7 fields (up to the time); ``id`` is the BIB and must not be
  empty. ``place`` is an integer, or empty, or a status.
* Status: ``DNF``, ``DNS``, ``DQ``; ``DSQ`` is written ``DQ``; a rule given with it is kept
  (``DQ 7.12``, ``DQ-TR16.8`` -> ``DQ TR16.8``, ``DSQ`` -> ``DQ``). It may stand in the place
  or in the time column. A numeric place together with a status is refused (the file
  contradicts itself). Any other word in place of a place is refused.
* ``elapsed_us``: the time column exactly as written (``10.234`` -> 10234000, ``1:02.345``,
  ``12:01:02.3``), no rounding (the official 1/100 s rounding is the ranking engine's, RULES.md
  §6); empty -> ``None``. The reaction time likewise. The delta is not read.
* Names are UTF-8, or cp1252 when the file is not UTF-8 (FinishLynx runs on Windows).
"""

from __future__ import annotations

import csv

from ._common import LineError, clock_us, digits, duration_us, text_lines
from .model import LifAthlete, LifHeader, LifResult, ParseResult, Rejection

STATUSES = ("DNF", "DNS")
_DQ_PREFIXES = ("DSQ", "DQ")
MIN_ATHLETE_FIELDS = 7
MIN_HEADER_FIELDS = 4


def _split(text: str) -> list[str]:
    # one physical line is one record; csv handles quoted names with commas
    return [field.strip() for field in next(csv.reader([text]))]


def status_of(text: str) -> str | None:
    """``DNF``/``DNS``/``DQ [rule]`` for a status word, ``None`` for anything else."""
    upper = text.upper()
    if upper in STATUSES:
        return upper
    for prefix in _DQ_PREFIXES:
        if upper.startswith(prefix):
            rest = text[len(prefix) :].strip(" -:")
            return f"DQ {rest}" if rest else "DQ"
    return None


def _optional(fields: list[str], index: int) -> str | None:
    if index < len(fields) and fields[index] != "":
        return fields[index]
    return None


def _header(fields: list[str], number: int) -> LifHeader:
    if len(fields) < MIN_HEADER_FIELDS:
        raise LineError(
            f"header has {len(fields)} fields; it needs event, round, heat and name at least"
        )
    start = _optional(fields, 10)
    return LifHeader(
        event=digits(fields[0], "event number"),
        round=digits(fields[1], "round number"),
        heat=digits(fields[2], "heat number"),
        name=fields[3],
        wind=_optional(fields, 4),
        wind_unit=_optional(fields, 5),
        distance=_optional(fields, 9),
        start_time=start,
        start_time_of_day_us=None if start is None else clock_us(start, "start time"),
        line=number,
    )


def _athlete(fields: list[str], number: int) -> LifAthlete:
    if len(fields) < MIN_ATHLETE_FIELDS:
        raise LineError(f"athlete line has {len(fields)} fields, at least 7 are needed")
    place_text, bib, lane_text, last, first, affiliation, time_text = fields[:7]
    if not bib:
        raise LineError("athlete line without an id (BIB)")
    status: str | None = None
    place: int | None = None
    if place_text:
        if place_text.isascii() and place_text.isdigit():
            place = int(place_text)
            if place == 0:
                raise LineError("place 0 does not exist")
        else:
            status = status_of(place_text)
            if status is None:
                raise LineError(f"place {place_text!r} is neither a number nor DNF/DNS/DQ")
    elapsed: int | None = None
    if time_text:
        time_status = status_of(time_text)
        if time_status is not None:
            if place is not None:
                raise LineError(f"place {place} together with status {time_status}")
            if status is not None and status != time_status:
                raise LineError(f"status {status} in the place column, {time_status} in time")
            status = time_status
        else:
            elapsed = duration_us(time_text, "time")
    reaction_text = fields[9] if len(fields) > 9 else ""
    return LifAthlete(
        place=place,
        bib=bib,
        lane=None if lane_text == "" else digits(lane_text, "lane"),
        last_name=last,
        first_name=first,
        affiliation=affiliation,
        status=status,
        elapsed_us=elapsed,
        reaction_us=None if reaction_text == "" else duration_us(reaction_text, "reaction time"),
        line=number,
    )


def parse(data: bytes | str) -> ParseResult:
    header: LifHeader | None = None
    athletes: list[LifAthlete] = []
    rejected: list[Rejection] = []
    seen_header = False
    for number, line, decoded in text_lines(data, fallback="cp1252"):
        text = line.strip()
        if not text:
            continue
        is_header = not seen_header
        seen_header = True
        try:
            if not decoded:
                raise LineError("line is not valid text")
            fields = _split(text)
            if is_header:
                header = _header(fields, number)
            else:
                athletes.append(_athlete(fields, number))
        except LineError as error:
            rejected.append(Rejection(number, text, error.reason))
        except csv.Error as error:
            rejected.append(Rejection(number, text, f"not a CSV line: {error}"))
    return ParseResult("lif", [], rejected, 0, lif=LifResult(header=header, athletes=athletes))
