"""Strict parsers for what timing hardware sends (TIMING-FORMATS.md, RULES.md §6, issue 4).

One entry point, pure (it reads only the bytes or text it is given)::

    result = parse("ipico", data, tz=ZoneInfo("Asia/Almaty"), device="finish-1")
    result.reads      # list[Passing], in input order, repeats kept
    result.rejected   # list[Rejection(line, text, reason)], the good lines around still read
    result.skipped    # protocol lines that are not reads
    result.lif        # LifResult for the "lif" format

Format names: ``ipico``, ``chronotrack``, ``raceresult``, ``ultra``, ``mylaps-p3``, ``lif``,
``csv``. Each module's docstring lists its sources and the decisions taken.
"""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from . import chronotrack, generic_csv, ipico, lif, mylaps_p3, raceresult, ultra
from ._common import Context, LineParser, parse_lines
from .cli import run_parse_cli
from .model import Kind, LifAthlete, LifHeader, LifResult, ParseResult, Passing, Rejection
from .render import to_json_line

_LINE_FORMATS: dict[str, LineParser] = {
    "ipico": ipico.parse_line,
    "chronotrack": chronotrack.parse_line,
    "raceresult": raceresult.parse_line,
    "ultra": ultra.parse_line,
}
FORMATS: tuple[str, ...] = (
    "ipico",
    "chronotrack",
    "raceresult",
    "ultra",
    "mylaps-p3",
    "lif",
    "csv",
)


class UnknownFormatError(ValueError):
    """The format name is not one of ``FORMATS``."""


def parse(
    format: str,
    data: bytes | str,
    *,
    tz: ZoneInfo,
    device: str | None = None,
    day: date | None = None,
) -> ParseResult:
    """Parse a batch of device output.

    ``tz`` is the device's zone, used for every zone-less time (IPICO, RACE RESULT,
    ChronoTrack and CSV times without an offset); Ultra and P3 count UTC and ignore it.
    ``device`` names the device (the one in its token); without it each read carries the id
    its own line gives. ``day`` is the race day, needed only by lines that carry a time of day
    without a date (ChronoTrack ``normal`` and ``msecs`` times, CT01_13, RACE RESULT decoders
    without GPS, CSV times of day); without it such lines are refused with that reason.
    ``mylaps-p3`` takes bytes.
    """
    ctx = Context(tz=tz, device=device, day=day)
    line_parser = _LINE_FORMATS.get(format)
    if line_parser is not None:
        return parse_lines(format, data, ctx, line_parser)
    if format == "mylaps-p3":
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError("mylaps-p3 is binary: pass bytes")
        return mylaps_p3.parse(bytes(data), ctx)
    if format == "lif":
        return lif.parse(data)
    if format == "csv":
        return generic_csv.parse(data, ctx)
    raise UnknownFormatError(f"unknown format {format!r}; one of: {', '.join(FORMATS)}")


__all__ = [
    "FORMATS",
    "Kind",
    "LifAthlete",
    "LifHeader",
    "LifResult",
    "ParseResult",
    "Passing",
    "Rejection",
    "UnknownFormatError",
    "parse",
    "run_parse_cli",
    "to_json_line",
]
