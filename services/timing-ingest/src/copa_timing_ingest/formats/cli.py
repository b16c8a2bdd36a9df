"""``copa timing parse``: the edge where files, standard streams and exit codes live.

Everything impure about the command is here; the parsing itself is ``formats.parse``.
"""

from __future__ import annotations

import sys
from datetime import date
from typing import BinaryIO, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .render import to_json_line

EXIT_OK = 0
EXIT_BAD_LINES = 1
EXIT_USAGE = 2


def run_parse_cli(
    format: str,
    path_or_dash: str,
    tz_name: str = "Asia/Almaty",
    *,
    day: date | None = None,
    device: str | None = None,
    stdin: BinaryIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Read ``path_or_dash`` (``-``: standard input, as bytes), print one JSON object per read
    (``.lif``: per athlete line) to standard output and ``line N: reason`` per refused line to
    standard error.

    Returns 0 when every line was read, 1 when any line was refused, 2 for a usage error (an
    unknown format or zone, a file that cannot be read). ``day`` is the race day for formats
    whose lines carry a time of day only; the command guesses none (wire it to ``--date``).
    ``stdin`` (a binary stream), ``stdout`` and ``stderr`` default to the process's own.
    """
    from . import FORMATS, parse  # the package imports this module

    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    if format not in FORMATS:
        err.write(f"unknown format {format!r}; one of: {', '.join(FORMATS)}\n")
        return EXIT_USAGE
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        err.write(f"unknown time zone {tz_name!r} (an IANA name such as Asia/Almaty)\n")
        return EXIT_USAGE
    try:
        if path_or_dash == "-":
            stream = stdin if stdin is not None else sys.stdin.buffer
            data = stream.read()
        else:
            with open(path_or_dash, "rb") as handle:
                data = handle.read()
    except OSError as error:
        err.write(f"cannot read {path_or_dash}: {error.strerror or error}\n")
        return EXIT_USAGE

    result = parse(format, data, tz=tz, device=device, day=day)
    items = result.lif.athletes if result.lif is not None else result.reads
    if items:
        out.write("\n".join(to_json_line(item) for item in items) + "\n")
    if result.rejected:
        err.write("".join(f"line {r.line}: {r.reason}\n" for r in result.rejected))
    out.flush()
    return EXIT_BAD_LINES if result.rejected else EXIT_OK
