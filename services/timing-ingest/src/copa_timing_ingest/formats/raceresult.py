"""RACE RESULT decoder passings (ASCII, ``;`` separated, TCP 3601).

Source: RACE RESULT knowledge base, "Decoder Communication Protocol", Passing Record (kb 487,
"since protocol version 1.6")::

    <PassingNo>;<Bib/TranspCode>;<Date>;<Time>;[<EventID>];<Hits>;<MaxRSSI>;<InternalData>;
    <IsActive>;[<Channel>];[<LoopID>];[<LoopOnly>];[<WakeupCounter>];[<Battery>];
    [<Temperature>];[<InternalActiveData>];<BoxName>;<FileNumber>;[<MaxRSSIAntenna>];<BoxId>

20 fields; a pushed passing is the same record after ``#P;``. ``<Date>`` is ``yyyy-MM-dd``
when the decoder has GPS, "otherwise 0000-00-00, or 0000-00-01 after 24 hours and so on";
``<Time>`` is ``hh:mm:ss.kkk``. ``<Hits>`` and ``<MaxRSSI>`` are hexadecimal, as the open
decoder client metarace reads them (``ndf-zz/metarace`` ``decoder/rrs.py``: ``int(hits, 16)``,
``int(rssi, 16)``, record length 20, ``#P`` = pushed passing).

Decisions:

* Exactly 20 fields (protocol 1.6 and later, which a client selects with ``SETPROTOCOL``);
  older, shorter records are refused with the field count.
* A line that starts with a digit is the same record answered to a ``PASSINGS``/fetch
  request and is read the same way.
* ``seq`` is the passing number; ``seq_scope`` is ``<box id>/<file number>`` because passing
  numbers restart at 1 in every new passing file (kb 46148: a new file each time Timing Mode
  starts).
* ``antenna`` is ``<MaxRSSIAntenna>`` (passive systems), else ``<LoopID>`` (active), else
  none. ``rssi`` is ``<MaxRSSI>``, ``hits`` is ``<Hits>``, both as the decoder counts them.
* Date ``0000-00-0N``: the race day (``day=``) plus N days; without a race day the line is
  refused. Times are the decoder's local clock (zone-less): read in the device's zone.
* Tag ids starting ``99999`` are the box's trigger markers (metarace); they are kept as reads
  with the chip as written, not guessed to be a start signal.
* Other decoder answers (``GETSTATUS;...``, ``PASSINGS;...``, ``#S;...``, any line whose first
  field is an upper-case command word with an optional ``#``) are skipped.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ._common import (
    Context,
    LineError,
    Skip,
    clock_us,
    device_of,
    digits,
    hex_number,
    iso_date,
    local_to_utc,
    on_day,
    optional_digits,
)
from .model import Passing

FIELDS = 20


def _is_protocol_line(first: str) -> bool:
    """An upper-case command word, optionally after ``#`` (``GETSTATUS``, ``#S``, ``ONLY 5``)."""
    word = first.split(" ", 1)[0]
    word = word[1:] if word.startswith("#") else word
    return (
        word.isascii()
        and word[:1].isalpha()
        and word.replace("_", "").isalnum()
        and word.upper() == word
    )


def parse_line(text: str, number: int, ctx: Context) -> Passing:
    if text.startswith("#P;"):
        body = text[3:]
    elif text[0].isascii() and text[0].isdigit():
        body = text
    elif _is_protocol_line(text.split(";", 1)[0]):
        raise Skip
    else:
        raise LineError("not a RACE RESULT passing (#P;...) nor a decoder answer")
    fields = body.split(";")
    if len(fields) != FIELDS:
        raise LineError(f"a passing record has {FIELDS} ';' fields, not {len(fields)}")
    (
        passing_no,
        chip,
        date_text,
        time_text,
        _event_id,
        hits,
        max_rssi,
        _internal,
        is_active,
        _channel,
        loop_id,
        _loop_only,
        _wakeup,
        _battery,
        _temperature,
        _active_data,
        box_name,
        file_no,
        rssi_antenna,
        box_id,
    ) = fields
    seq = digits(passing_no, "passing number")
    if not chip:
        raise LineError("transponder is empty")
    if is_active not in ("", "0", "1"):
        raise LineError(f"is-active {is_active!r} is neither 0 nor 1")
    file_number = digits(file_no, "file number")
    of_day = clock_us(time_text)
    if date_text.startswith("0000-00-"):
        extra_days = digits(date_text[8:], "day count")
        if ctx.day is None:
            raise LineError("date 0000-00-.. (decoder without GPS): the race day must be given")
        at = on_day(ctx.day + timedelta(days=extra_days), of_day, ctx.tz)
    else:
        day = iso_date(date_text)
        naive = datetime(day.year, day.month, day.day) + timedelta(microseconds=of_day)
        at = local_to_utc(naive, ctx.tz)
    antenna = optional_digits(rssi_antenna, "max-RSSI antenna")
    if antenna is None:
        antenna = optional_digits(loop_id, "loop id")
    box = box_id or box_name
    return Passing(
        chip=chip,
        at=at,
        kind="read",
        device=device_of(ctx, box),
        line=number,
        raw=text,
        antenna=antenna,
        seq=seq,
        seq_scope=f"{box}/{file_number}",
        rssi=None if max_rssi == "" else hex_number(max_rssi, "max RSSI"),
        hits=None if hits == "" else hex_number(hits, "hits"),
    )


def build_line(
    passing_no: int,
    chip: str,
    when: datetime,
    *,
    hits: int = 0x12,
    rssi: int = 0x1F,
    box_name: str = "Decoder",
    file_no: int = 1,
    antenna: int | None = 1,
    box_id: str = "D-1",
    gps_date: bool = True,
) -> str:
    """A pushed passing for tests and the simulator; ``when`` is the decoder's local time."""
    date_text = f"{when:%Y-%m-%d}" if gps_date else "0000-00-00"
    fields = [
        str(passing_no),
        chip,
        date_text,
        f"{when:%H:%M:%S}.{when.microsecond // 1000:03d}",
        "0",
        f"{hits:X}",
        f"{rssi:X}",
        "",
        "0",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        box_name,
        str(file_no),
        "" if antenna is None else str(antenna),
        box_id,
    ]
    return "#P;" + ";".join(fields)
