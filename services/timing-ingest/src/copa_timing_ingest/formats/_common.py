"""Shared strict building blocks: digit parsing, clock and date parsing, local time to UTC.

No regular expressions and no floats: every number is read digit by digit so that a time
like ``10.234`` becomes exactly ``10_234_000`` microseconds (RULES.md §6: durations and
instants are integer microseconds, never floats).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from .model import ParseResult, Passing, Rejection

US_PER_SECOND = 1_000_000
US_PER_MINUTE = 60 * US_PER_SECOND
US_PER_HOUR = 60 * US_PER_MINUTE
US_PER_DAY = 24 * US_PER_HOUR
UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_US_SINCE_UNIX = (datetime(9999, 12, 31, tzinfo=UTC) - UNIX_EPOCH) // timedelta(microseconds=1)
_HEX = frozenset("0123456789abcdefABCDEF")


class LineError(Exception):
    """Raised inside a line parser; becomes a ``Rejection`` with this reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Skip(Exception):
    """Raised inside a line parser for a protocol line that is not a read."""


def digits(text: str, what: str) -> int:
    """A non-negative decimal integer made of ASCII digits only (no sign, no spaces)."""
    if not text or not (text.isascii() and text.isdigit()):
        raise LineError(f"{what} {text!r} is not a number")
    return int(text)


def signed(text: str, what: str) -> int:
    """A decimal integer with an optional leading ``-`` or ``+``."""
    body = text[1:] if text[:1] in ("-", "+") else text
    if not body or not (body.isascii() and body.isdigit()):
        raise LineError(f"{what} {text!r} is not a number")
    return -int(body) if text[0] == "-" else int(body)


def hex_number(text: str, what: str) -> int:
    if not text or not all(c in _HEX for c in text):
        raise LineError(f"{what} {text!r} is not hexadecimal")
    return int(text, 16)


def optional_digits(text: str, what: str) -> int | None:
    return None if text == "" else digits(text, what)


def fraction_us(text: str, what: str) -> int:
    """Digits after the decimal point as microseconds: ``"39"`` -> 390000. More than six
    digits are refused unless the extra ones are zeros (no rounding, ever)."""
    if not text or not (text.isascii() and text.isdigit()):
        raise LineError(f"{what}: fraction {text!r} is not a number")
    if len(text) > 6:
        if text[6:].strip("0"):
            raise LineError(f"{what}: {text!r} is finer than a microsecond")
        text = text[:6]
    return int(text.ljust(6, "0"))


def seconds_us(text: str, what: str) -> int:
    """``SS`` or ``SS.fff`` (any number of integer digits) as microseconds."""
    whole, dot, frac = text.partition(".")
    value = digits(whole, what) * US_PER_SECOND
    if dot:
        value += fraction_us(frac, what)
    return value


def clock_us(text: str, what: str = "time") -> int:
    """A time of day ``H:MM:SS[.f]`` / ``HH:MM:SS[.f]`` as microseconds since midnight.
    Hours 0-23, minutes and seconds 0-59 (a leap second is refused: no device here keeps
    them)."""
    parts = text.split(":")
    if len(parts) != 3:
        raise LineError(f"{what} {text!r} is not HH:MM:SS")
    hh, mm, ss = parts
    if not 1 <= len(hh) <= 2 or len(mm) != 2 or len(ss.partition(".")[0]) != 2:
        raise LineError(f"{what} {text!r} is not HH:MM:SS")
    hours = digits(hh, what)
    minutes = digits(mm, what)
    secs = seconds_us(ss, what)
    if hours > 23:
        raise LineError(f"{what} {text!r}: hour {hours} does not exist")
    if minutes > 59:
        raise LineError(f"{what} {text!r}: minute {minutes} does not exist")
    if secs >= 60 * US_PER_SECOND:
        raise LineError(f"{what} {text!r}: second {ss} does not exist")
    return hours * US_PER_HOUR + minutes * US_PER_MINUTE + secs


def duration_us(text: str, what: str = "time") -> int:
    """A duration ``S[.f]``, ``M:SS[.f]`` or ``H:MM:SS[.f]`` as exact microseconds:
    ``10.234`` -> 10234000, ``1:02.345`` -> 62345000, ``12:01:02.3`` -> 43262300000."""
    parts = text.split(":")
    if len(parts) > 3:
        raise LineError(f"{what} {text!r} has too many ':'")
    secs_text = parts[-1]
    if len(parts) > 1 and len(secs_text.partition(".")[0]) != 2:
        raise LineError(f"{what} {text!r}: seconds after ':' must have two digits")
    value = seconds_us(secs_text, what)
    if len(parts) > 1 and value >= 60 * US_PER_SECOND:
        raise LineError(f"{what} {text!r}: seconds must be below 60 after ':'")
    if len(parts) == 2:
        value += digits(parts[0], what) * US_PER_MINUTE
    elif len(parts) == 3:
        if len(parts[1]) != 2:
            raise LineError(f"{what} {text!r}: minutes after ':' must have two digits")
        minutes = digits(parts[1], what)
        if minutes > 59:
            raise LineError(f"{what} {text!r}: minutes must be below 60 after ':'")
        value += digits(parts[0], what) * US_PER_HOUR + minutes * US_PER_MINUTE
    return value


def make_date(year: int, month: int, day: int, what: str = "date") -> date:
    if not 1 <= month <= 12:
        raise LineError(f"{what}: month {month} does not exist")
    try:
        return date(year, month, day)
    except ValueError:
        raise LineError(f"{what}: day {day} does not exist in {year:04d}-{month:02d}") from None


def iso_date(text: str, what: str = "date") -> date:
    """``YYYY-MM-DD``."""
    if len(text) != 10 or text[4] != "-" or text[7] != "-":
        raise LineError(f"{what} {text!r} is not YYYY-MM-DD")
    return make_date(
        digits(text[0:4], what), digits(text[5:7], what), digits(text[8:10], what), what
    )


def iso_datetime(text: str, what: str = "time") -> tuple[datetime, timedelta | None]:
    """``YYYY-MM-DD[T ]HH:MM:SS[.f][Z|±HH:MM|±HHMM]`` as a naive datetime and the offset the
    text gives (``None`` when it gives none: a zone-less wall-clock time)."""
    if len(text) < 19 or text[10] not in "T ":
        raise LineError(f"{what} {text!r} is not an ISO 8601 date and time")
    day = iso_date(text[:10], what)
    rest = text[11:]
    offset: timedelta | None = None
    if rest.endswith("Z"):
        rest, offset = rest[:-1], timedelta(0)
    else:
        sign_at = max(rest.rfind("+"), rest.rfind("-"))
        if sign_at >= 0:
            zone = rest[sign_at + 1 :].replace(":", "")
            if len(zone) != 4:
                raise LineError(f"{what} {text!r}: offset is not ±HH:MM")
            hours, minutes = digits(zone[:2], what), digits(zone[2:], what)
            if hours > 23 or minutes > 59:
                raise LineError(f"{what} {text!r}: offset does not exist")
            offset = timedelta(hours=hours, minutes=minutes)
            if rest[sign_at] == "-":
                offset = -offset
            rest = rest[:sign_at]
    of_day = clock_us(rest, what)
    naive = datetime(day.year, day.month, day.day) + timedelta(microseconds=of_day)
    return naive, offset


def local_to_utc(naive: datetime, tz: ZoneInfo, what: str = "time") -> datetime:
    """A zone-less wall-clock time read in ``tz``, as an aware UTC datetime.

    A wall-clock time that the zone skips or repeats (a clock change: Asia/Almaty went from
    UTC+6 to UTC+5 at 2024-03-01 00:00, so 2024-02-29 23:00-24:00 happened twice) is refused:
    which instant was meant cannot be known, and a guessed time is worse than a judge's look.
    """
    first = naive.replace(tzinfo=tz)
    offset = first.utcoffset()
    second_offset = naive.replace(tzinfo=tz, fold=1).utcoffset()
    if offset is None or offset != second_offset:
        exists = first.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == naive
        kind = "happened twice" if exists else "did not happen"
        raise LineError(
            f"{what} {naive.isoformat()} {kind} in {tz.key} (clock change): ambiguous instant"
        )
    return (naive - offset).replace(tzinfo=UTC)


def aware_to_utc(naive: datetime, offset: timedelta) -> datetime:
    return (naive - offset).replace(tzinfo=UTC)


def unix_us_to_utc(us: int, what: str = "time") -> datetime:
    if us < 0 or us > _MAX_US_SINCE_UNIX:
        raise LineError(f"{what}: {us} µs since 1970 is out of range")
    return UNIX_EPOCH + timedelta(microseconds=us)


def on_day(day: date | None, of_day_us: int, tz: ZoneInfo, what: str = "time") -> datetime:
    """A time of day without a date, on the race day the caller gives."""
    if day is None:
        raise LineError(f"{what} has no date: the race day must be given (day=, --date)")
    naive = datetime(day.year, day.month, day.day) + timedelta(microseconds=of_day_us)
    return local_to_utc(naive, tz, what)


def text_lines(
    data: bytes | str, *, fallback: str | None = None
) -> Iterator[tuple[int, str, bool]]:
    """``(1-based line number, line, decoded)`` for each line, LF or CRLF, terminators
    removed.

    Bytes are read as UTF-8 (a byte-order mark is dropped). With ``fallback``, a file that is
    not UTF-8 is read whole in that encoding (FinishLynx on Windows writes cp1252 names).
    Otherwise a line that is not valid UTF-8 comes back with ``decoded`` false (its text with
    backslash escapes, for the rejection message), for the caller to refuse: no character is
    ever replaced or guessed.
    """
    if isinstance(data, str):
        text = data[1:] if data.startswith("\ufeff") else data
        for number, line in enumerate(text.split("\n"), start=1):
            yield number, line[:-1] if line.endswith("\r") else line, True
        return
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        whole: str | None = data.decode("utf-8")
    except UnicodeDecodeError:
        whole = None
        if fallback:
            try:
                whole = data.decode(fallback)
            except UnicodeDecodeError:
                whole = None
    if whole is not None:
        yield from text_lines(whole)
        return
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        try:
            yield number, raw.decode("utf-8"), True
        except UnicodeDecodeError:
            yield number, raw.decode("utf-8", "backslashreplace"), False


@dataclass(frozen=True, slots=True)
class Context:
    """What every line parser needs besides the line: the zone for zone-less times (one
    ``ZoneInfo`` for the whole batch), the caller's device and the race day for lines that
    carry only a time of day."""

    tz: ZoneInfo
    device: str | None
    day: date | None


LineParser = Callable[[str, int, Context], Passing]


def parse_lines(fmt: str, data: bytes | str, ctx: Context, line_parser: LineParser) -> ParseResult:
    """Run ``line_parser`` on every non-blank line; a ``LineError`` refuses the line and the
    next one is read as usual; a ``Skip`` counts a protocol line."""
    reads: list[Passing] = []
    rejected: list[Rejection] = []
    skipped = 0
    for number, line, decoded in text_lines(data):
        text = line.strip()
        if not text:
            continue
        if not decoded:
            rejected.append(Rejection(number, text, "line is not valid UTF-8 text"))
            continue
        try:
            reads.append(line_parser(text, number, ctx))
        except Skip:
            skipped += 1
        except LineError as error:
            rejected.append(Rejection(number, text, error.reason))
    return ParseResult(fmt, reads, rejected, skipped)


def device_of(ctx: Context, own: str | None) -> str | None:
    """The caller's device wins; else what the line says about itself."""
    if ctx.device is not None:
        return ctx.device
    return own or None
