"""RFID Timing Systems "Ultra" / "Joey" reader lines (ASCII, comma separated).

Chip read (TIMING-FORMATS.md; the open PikaTimer client, ``PikaRFIDDirectReader.java``,
documents the same 12 fields with the example ``0,11055,1170518701,698,1,-71,0,2,1,
0000000000000000,0,29319``)::

    0,<chip>,<seconds since 1980-01-01 00:00 UTC>,<milliseconds>,<antenna>,<rssi>,
    <is rewind>,<reader>,<box>,<reader time>,<start time>,<log id>

Decisions:

* ``seq`` is the log id, ``seq_scope`` the box: a rewound read (``is rewind`` = 1, resent from
  the reader's memory) has the log id of the live one and dedupes with it.
* Antenna 0 with chip ``0`` is the start trigger: ``kind="gun"`` (PikaTimer: "port 0 && chip 0"
  is a start time). Antenna 0 with any other chip is refused; antennas 1-8 are reads.
* A line starting ``1,`` is read like ``0,`` (PikaTimer treats both as chip reads).
* The seconds count from 1980-01-01 00:00 UTC as TIMING-FORMATS.md states. (PikaTimer adds
  them to a local 1980 epoch: if a reader turns out to count local time, this is the one line
  to change.)
* Skipped, not errors: ``V=`` (voltage), ``S=`` (status), ``U``/``u`` setting and command
  answers, the ETX-led extended status, and the clock answer ``HH:MM:SS ...``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ._common import (
    US_PER_SECOND,
    Context,
    LineError,
    Skip,
    device_of,
    digits,
    signed,
)
from .model import Kind, Passing

ULTRA_EPOCH = datetime(1980, 1, 1, tzinfo=UTC)
FIELDS = 12
MAX_ANTENNA = 8


def _is_protocol_line(text: str) -> bool:
    if text.startswith(("V=", "S=", "U", "u", "\x03")):
        return True
    # clock answer: "HH:MM:SS ..." (PikaTimer: line[0:8] matches \d+:\d+:\d+)
    return (
        len(text) >= 8
        and text[2] == ":"
        and text[5] == ":"
        and (text[0:2] + text[3:5] + text[6:8]).isascii()
        and (text[0:2] + text[3:5] + text[6:8]).isdigit()
    )


def parse_line(text: str, number: int, ctx: Context) -> Passing:
    if not text.startswith(("0,", "1,")):
        if _is_protocol_line(text):
            raise Skip
        raise LineError("not an Ultra chip read (0,...) nor a status or settings line")
    fields = text.split(",")
    if len(fields) != FIELDS:
        raise LineError(f"an Ultra chip read has {FIELDS} ',' fields, not {len(fields)}")
    (
        _,
        chip,
        seconds,
        millis,
        antenna_text,
        rssi,
        rewind,
        reader,
        box,
        _reader_time,
        start_time,
        log_id,
    ) = fields
    if not chip:
        raise LineError("chip is empty")
    ms = digits(millis, "milliseconds")
    if ms > 999:
        raise LineError(f"milliseconds {ms} are above 999")
    antenna = digits(antenna_text, "antenna")
    if antenna > MAX_ANTENNA:
        raise LineError(f"antenna {antenna} does not exist (0-{MAX_ANTENNA})")
    kind: Kind = "read"
    if antenna == 0:
        if chip != "0":
            raise LineError(f"antenna 0 is the start trigger input; chip {chip!r} cannot be on it")
        kind = "gun"
    if rewind not in ("0", "1"):
        raise LineError(f"is-rewind {rewind!r} is neither 0 nor 1")
    digits(reader, "reader")
    digits(start_time, "start time")
    seq = digits(log_id, "log id")
    offset_us = digits(seconds, "seconds since 1980") * US_PER_SECOND + ms * 1000
    try:
        at = ULTRA_EPOCH + timedelta(microseconds=offset_us)
    except OverflowError:
        raise LineError(f"seconds since 1980 {seconds} are out of range") from None
    return Passing(
        chip=chip,
        at=at,
        kind=kind,
        device=device_of(ctx, box),
        line=number,
        raw=text,
        antenna=antenna,
        seq=seq,
        seq_scope=box,
        rssi=signed(rssi, "rssi"),
    )


def build_line(
    chip: str,
    at: datetime,
    *,
    log_id: int,
    antenna: int = 1,
    rssi: int = -60,
    rewind: bool = False,
    reader: int = 1,
    box: str = "1",
) -> str:
    """A chip-read line for ``at`` (aware); for tests and the simulator."""
    since = at - ULTRA_EPOCH
    seconds, rest = divmod(since // timedelta(microseconds=1), US_PER_SECOND)
    return (
        f"0,{chip},{seconds},{rest // 1000},{antenna},{rssi},{int(rewind)},{reader},{box},"
        f"0000000000000000,0,{log_id}"
    )
