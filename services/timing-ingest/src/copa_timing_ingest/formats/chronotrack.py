"""ChronoTrack socket protocol (CTP01, TCP 61611): tag lines and session lines.

Sources: TIMING-FORMATS.md; the CTP01 description and examples published with PointCam
(``CT01_33~1~finish~1234~14:02:15.31~0~POINTCAM~0``, time formats ``normal`` ``14:02:15.31``,
``iso`` ``2026-02-01T14:02:15.31``, ``unix`` ``1738418535.31``, ``msecs`` ``50535310``;
greeting ``RunScore~Version 6.5~CTP01``, ``ack~...``, ``err~...``, ``ping``, ``start~finish``,
``stream-mode=push``); racemap's timing forwarder (``CT01_33~4~start~guntime~07:45:01.01~0~
DF239A~0``, ``CT01_33~2038~30k~newlocation~09:15:21.00~0~ED932A~0``, and CT01_13
``CT01_13,24,START,50101,15:54:48.90,1,117F37,8`` = protocol, line number, point, tag, time of
day, read occurrence, reader MAC, antenna port, "0 will be a GUN START normally").

CT01_33 fields: ``CT01_33~seq~location~tag~time~lap~reader id~gator``. The seventh field is
the reader, the eighth the gator (ChronoTrack's antenna unit) number, read as ``antenna``.

Decisions:

* Tag ``guntime`` is the start signal (``kind="gun"``), in both layouts.
* CT01_13 antenna port 0 is the reader's gun input: ChronoTrack readers number their antenna
  ports 1-8, so a port-0 line is a start signal, not a chip read (``kind="gun"``, chip kept
  as written).
* Tag ``newlocation`` is a session event (a reader joined a location), skipped.
* Times: ``HH:MM:SS.ff`` and ``msecs`` (milliseconds since midnight, at most 8 digits) need
  the race day; ISO times without an offset are the reader's local time; Unix seconds (a
  number with a fraction, or 9 digits or more) are UTC.
* Skipped as protocol lines, and only these: the three-field greeting whose third field is
  ``CTP01``, a ``CT01_xx`` layout name or a request count; lines whose first ``~`` field is a
  CTP01 command or answer (``ack``, ``err``, ``ping``, ``start``, ``stop``, ``getlocations``,
  ``getconnectionid``, ``geteventinfo``, ``authorize``); ``key=value`` settings lines whose
  key is lowercase letters and hyphens.
"""

from __future__ import annotations

from datetime import datetime

from ._common import (
    US_PER_DAY,
    US_PER_SECOND,
    Context,
    LineError,
    Skip,
    aware_to_utc,
    clock_us,
    device_of,
    digits,
    fraction_us,
    iso_datetime,
    local_to_utc,
    on_day,
    unix_us_to_utc,
)
from .model import Kind, Passing

GUN_TAG = "guntime"
_COMMANDS = frozenset(
    {
        "ack",
        "err",
        "ping",
        "start",
        "stop",
        "getlocations",
        "getconnectionid",
        "geteventinfo",
        "authorize",
    }
)
_SETTING_KEY = frozenset("abcdefghijklmnopqrstuvwxyz-")


def _is_protocol_line(text: str) -> bool:
    fields = text.split("~")
    if fields[0].lower() in _COMMANDS:
        return True
    if len(fields) == 3 and fields[0] and not fields[0].startswith("CT01_"):
        third = fields[2]
        if third == "CTP01" or third.startswith("CT01_") or (third.isascii() and third.isdigit()):
            return True
    key, eq, _ = text.partition("=")
    return bool(eq) and bool(key) and "~" not in text and set(key) <= _SETTING_KEY


def parse_time(text: str, ctx: Context) -> datetime:
    """A ChronoTrack time in any of the session's formats, as an aware UTC datetime."""
    if "T" in text or (":" in text and "-" in text):
        naive, offset = iso_datetime(text)
        return local_to_utc(naive, ctx.tz) if offset is None else aware_to_utc(naive, offset)
    if ":" in text:
        return on_day(ctx.day, clock_us(text), ctx.tz)
    whole, dot, frac = text.partition(".")
    if dot:
        seconds = digits(whole, "Unix time")
        return unix_us_to_utc(seconds * US_PER_SECOND + fraction_us(frac, "Unix time"))
    value = digits(text, "time")
    if len(text) <= 8:
        if value >= US_PER_DAY // 1000:
            raise LineError(f"time {text!r}: {value} ms is past midnight")
        return on_day(ctx.day, value * 1000, ctx.tz)
    return unix_us_to_utc(value * US_PER_SECOND)


def _ct01_33(text: str, number: int, ctx: Context) -> Passing:
    fields = text.split("~")
    if len(fields) != 8:
        raise LineError(f"a CT01_33 line has 8 '~' fields, not {len(fields)}")
    _, seq, location, tag, time, lap, reader, gator = fields
    if tag == "newlocation":
        raise Skip
    seq_value = digits(seq, "sequence number")
    if not location:
        raise LineError("location is empty")
    if not tag:
        raise LineError("tag is empty")
    digits(lap, "lap")
    if not reader:
        raise LineError("reader id is empty")
    kind: Kind = "gun" if tag.lower() == GUN_TAG else "read"
    return Passing(
        chip=tag,
        at=parse_time(time, ctx),
        kind=kind,
        device=device_of(ctx, reader),
        line=number,
        raw=text,
        antenna=digits(gator, "gator"),
        location=location,
        seq=seq_value,
        seq_scope=reader,
    )


def _ct01_13(text: str, number: int, ctx: Context) -> Passing:
    fields = text.split(",")
    if len(fields) != 8:
        raise LineError(f"a CT01_13 line has 8 ',' fields, not {len(fields)}")
    _, seq, location, tag, time, _occurrence, reader, port = fields
    seq_value = digits(seq, "line number")
    if not location:
        raise LineError("point is empty")
    if not tag:
        raise LineError("tag is empty")
    digits(_occurrence, "read occurrence")
    if not reader:
        raise LineError("reader MAC is empty")
    antenna = digits(port, "antenna port")
    kind: Kind = "gun" if tag.lower() == GUN_TAG or antenna == 0 else "read"
    return Passing(
        chip=tag,
        at=parse_time(time, ctx),
        kind=kind,
        device=device_of(ctx, reader),
        line=number,
        raw=text,
        antenna=antenna,
        location=location,
        seq=seq_value,
        seq_scope=reader,
    )


def parse_line(text: str, number: int, ctx: Context) -> Passing:
    if text.startswith("CT01_33~"):
        return _ct01_33(text, number, ctx)
    if text.startswith("CT01_13,"):
        return _ct01_13(text, number, ctx)
    if _is_protocol_line(text):
        raise Skip
    raise LineError("not a ChronoTrack tag line (CT01_33~... or CT01_13,...) nor a session line")
