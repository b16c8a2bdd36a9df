"""IPICO reader lines (ASCII).

Layout (TIMING-FORMATS.md; checked against the public parser of iwismer/rusty-timer,
``crates/ipico-core/src/read.rs``, whose test line ``aa400000000123450a2a01123018455927a7`` is
tag ``000000012345`` at 2001-12-30 18:45:59.39)::

    [0:2]   "aa"
    [2:4]   reader id (hex)
    [4:16]  tag id (12 hex), kept as written
    [16:20] counters (hex), not used
    [20:26] date yyMMdd (20yy)
    [26:32] time HHmmss, the reader's local clock, no zone
    [32:34] hundredths of a second in hex, 00-63
    [34:40] only in the 42/44-character variant: index, page, flags (hex bytes)
    [-2:]   checksum: sum of the ASCII bytes from [2] up to the checksum, mod 256, two
            lowercase hex digits
    then optionally "FS" or "LS" (first seen / last seen)

Decisions:

* Flags byte: 0x80 first seen, 0x40 last seen; 0xFF marks a tamper report, not FS/LS
  (rusty-timer). Both 0x80 and 0x40 set, or a suffix that contradicts the flags, is refused:
  the reader said two things and we do not pick one.
* The checksum must match exactly, lowercase. IPICO has no sequence number: ``seq`` is
  ``None`` and reads dedupe on the raw line.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ._common import (
    US_PER_HOUR,
    US_PER_MINUTE,
    US_PER_SECOND,
    Context,
    LineError,
    device_of,
    digits,
    hex_number,
    local_to_utc,
    make_date,
)
from .model import Kind, Passing

FLAG_FIRST_SEEN = 0x80
FLAG_LAST_SEEN = 0x40
FLAG_TAMPER = 0xFF
_SUFFIX_KIND: dict[str, Kind] = {"FS": "first_seen", "LS": "last_seen"}


def checksum(body: str) -> str:
    """The IPICO checksum of the characters from index 2 up to the checksum."""
    return format(sum(body.encode("ascii")) & 0xFF, "02x")


def parse_line(text: str, number: int, ctx: Context) -> Passing:
    length = len(text)
    if length in (36, 38):
        core = 36
    elif length in (42, 44):
        core = 42
    else:
        raise LineError(f"an IPICO line has 36, 38, 42 or 44 characters, not {length}")
    if not text.isascii():
        raise LineError("an IPICO line is ASCII")
    if text[:2] != "aa":
        raise LineError("an IPICO line starts with 'aa'")
    written, computed = text[core - 2 : core], checksum(text[2 : core - 2])
    if written != computed:
        raise LineError(f"checksum {written!r} does not match the line (computed {computed!r})")
    reader = text[2:4]
    hex_number(reader, "reader id")
    tag = text[4:16]
    hex_number(tag, "tag id")
    hex_number(text[16:20], "counters")

    kind: Kind = "read"
    suffix = text[core:]
    if suffix:
        if suffix not in _SUFFIX_KIND:
            raise LineError(f"suffix {suffix!r} is neither FS nor LS")
        kind = _SUFFIX_KIND[suffix]
    if core == 42:
        hex_number(text[34:36], "index")
        hex_number(text[36:38], "page")
        flags = hex_number(text[38:40], "flags")
        if flags != FLAG_TAMPER:
            first, last = bool(flags & FLAG_FIRST_SEEN), bool(flags & FLAG_LAST_SEEN)
            if first and last:
                raise LineError(f"flags {flags:#04x} say both first seen and last seen")
            flagged: Kind | None = "first_seen" if first else "last_seen" if last else None
            if flagged is not None:
                if suffix and flagged != kind:
                    raise LineError(f"suffix {suffix} contradicts flags {flags:#04x}")
                kind = flagged

    day = make_date(
        2000 + digits(text[20:22], "year"),
        digits(text[22:24], "month"),
        digits(text[24:26], "day"),
    )
    hours, minutes, seconds = (
        digits(text[26:28], "hour"),
        digits(text[28:30], "minute"),
        digits(text[30:32], "second"),
    )
    if hours > 23:
        raise LineError(f"hour {hours} does not exist")
    if minutes > 59:
        raise LineError(f"minute {minutes} does not exist")
    if seconds > 59:
        raise LineError(f"second {seconds} does not exist")
    hundredths = hex_number(text[32:34], "hundredths")
    if hundredths > 99:
        raise LineError(f"hundredths 0x{text[32:34]} = {hundredths} is above 99")
    of_day = (
        hours * US_PER_HOUR
        + minutes * US_PER_MINUTE
        + seconds * US_PER_SECOND
        + hundredths * 10_000
    )
    naive = datetime(day.year, day.month, day.day) + timedelta(microseconds=of_day)
    return Passing(
        chip=tag,
        at=local_to_utc(naive, ctx.tz),
        kind=kind,
        device=device_of(ctx, reader),
        line=number,
        raw=text,
    )


def build_line(
    tag: str,
    when: datetime,
    *,
    reader: str = "40",
    counters: str = "0a2a",
    tto: tuple[int, int, int] | None = None,
    suffix: str = "",
) -> str:
    """An IPICO line for ``tag`` at the wall-clock time ``when`` (naive, the reader's local
    time; its microseconds must be whole hundredths). For tests and the simulator."""
    if when.microsecond % 10_000:
        raise ValueError("IPICO carries hundredths of a second only")
    body = f"{reader}{tag}{counters}{when:%y%m%d%H%M%S}{when.microsecond // 10_000:02x}" + (
        "" if tto is None else "".join(f"{b:02x}" for b in tto)
    )
    return f"aa{body}{checksum(body)}{suffix}"
