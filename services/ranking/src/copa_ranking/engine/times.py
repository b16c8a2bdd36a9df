"""Times: integer microseconds, gun and net time, rounding, and which source a time came from.

RULES §6 / reg 11.4: the official time is the GUN time, from the race's start signal to the
finish crossing; the net time, from the runner's own start-line crossing, is information. Every
duration and instant is an integer number of microseconds (never a float). An official track
time is the raw time rounded UP to the edition's resolution (1/100 s: 10.001 -> 10.01,
10.000 -> 10.00; WA TR 19). Raw times are compared at the tie resolution (1/1000 s, RULES §5,
WA TR 21), rounded up the same way.

Sources of a finish time, best first (issue 5, RULES §6): a judge's manual time (with a
reason) beats a photo-finish (FinishLynx `.lif`) time, which beats the chips; a judges' finish
order beats a photo-finish order, which beats the chips' order. Every time records its source.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypeVar

from copa_contracts.edition import ResultRules
from copa_ranking.engine.judges import JudgesException
from copa_ranking.engine.terms import (
    Bib,
    EngineError,
    OrderSource,
    RaceId,
    ResultStatus,
    RuledStatus,
    TimeSource,
)

if TYPE_CHECKING:
    from copa_ranking.engine.crossings import ChipFinish

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_ONE_US = dt.timedelta(microseconds=1)


def round_up(duration_us: int, resolution_us: int) -> int:
    """``duration_us`` rounded up to a multiple of ``resolution_us`` (exact integer maths)."""
    if resolution_us < 1:
        raise EngineError("a resolution must be at least 1 microsecond")
    return -(-duration_us // resolution_us) * resolution_us


def official_time_us(raw_us: int, results: ResultRules) -> int:
    """The official track time: raw time rounded UP to 1/100 s (RULES §6, WA TR 19)."""
    return round_up(raw_us, results.official_time_resolution_us)


def tie_key_us(raw_us: int, results: ResultRules) -> int:
    """A raw time as ties compare it: at 1/1000 s, rounded up (RULES §5, WA TR 21).

    Equal keys are "equal raw times" and share a place (RULES §6); photo-finish systems and
    WA read times to the thousandth, so a difference finer than that is not a difference.
    """
    return round_up(raw_us, results.tie_resolution_us)


def instant_us(moment: dt.datetime) -> int:
    """An aware instant as integer microseconds since the Unix epoch (RULES §6: no floats)."""
    if moment.tzinfo is None:
        raise EngineError("an instant needs a time zone (RULES §1: never guess an offset)")
    return (moment - _EPOCH) // _ONE_US


def from_instant_us(instant: int) -> dt.datetime:
    """The UTC instant of :func:`instant_us`'s number."""
    return _EPOCH + dt.timedelta(microseconds=instant)


DurationForm = Literal["s", "m:ss", "h:mm:ss"]
"""How many fields a formatted duration shows at least: ``9.87``, ``0:09.87``, ``0:00:09.87``."""

_FORMS: tuple[DurationForm, ...] = ("s", "m:ss", "h:mm:ss")


def duration_form(duration_us: int) -> DurationForm:
    """The shortest form that shows ``duration_us`` without a leading zero field."""
    whole_s = abs(duration_us) // 1_000_000
    return "h:mm:ss" if whole_s >= 3600 else "m:ss" if whole_s >= 60 else "s"


def format_duration(duration_us: int, decimals: int = 2, form: DurationForm = "s") -> str:
    """``10.01``, ``3:05.27``, ``1:02:03.000000``: truncated to ``decimals`` (round first).

    ``form`` is the least the text shows: a column of times formatted with the form of its
    longest (:func:`duration_form`) reads alike on every line (``0:59.99``, ``1:00.00``).
    """
    if not 0 <= decimals <= 6:
        raise EngineError("decimals must be 0..6")
    sign = "-" if duration_us < 0 else ""
    whole_s, micro = divmod(abs(duration_us), 1_000_000)
    hours, rest = divmod(whole_s, 3600)
    minutes, seconds = divmod(rest, 60)
    fraction = f".{micro:06d}"[: decimals + 1] if decimals else ""
    fields = max(_FORMS.index(form), _FORMS.index(duration_form(duration_us)))
    if fields == 2:
        return f"{sign}{hours}:{minutes:02d}:{seconds:02d}{fraction}"
    if fields == 1:
        return f"{sign}{minutes}:{seconds:02d}{fraction}"
    return f"{sign}{seconds}{fraction}"


_DURATION = re.compile(r"^(?:(?:(\d+):)?(\d{1,2}):)?(\d+)(?:\.(\d{1,6}))?$")


def parse_duration_us(text: str) -> int:
    """``h:mm:ss.ffffff``, ``m:ss.ff`` or seconds (``10.001``) as exact microseconds."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise EngineError(f"not a duration: {text!r}")
    hours, minutes, seconds, fraction = match.groups()
    if (hours or minutes) and int(seconds) >= 60:
        raise EngineError(f"seconds out of range in {text!r}")
    total_s = int(hours or 0) * 3600 + int(minutes or 0) * 60 + int(seconds)
    return total_s * 1_000_000 + int((fraction or "").ljust(6, "0"))


# --- sources of a finish time ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PhotoPlacing:
    """One line of a photo-finish (`.lif`) result, matched to a BIB."""

    bib: Bib
    place: int | None
    time_us: int | None
    finished: bool = True
    """False when the operator wrote DNS/DNF/DQ instead of a place: no time, no order."""


@dataclass(frozen=True, slots=True)
class PhotoFinish:
    """The photo-finish result of one race (RULES §6: the best source of times and order)."""

    placings: tuple[PhotoPlacing, ...]
    file_name: str = ""


@dataclass(frozen=True, slots=True)
class ManualTime:
    """A judge's manual gun time: beats photo-finish and chip (issue 5), and says why."""

    bib: Bib
    gun_time_us: int
    reason: str
    net_time_us: int | None = None

    def __post_init__(self) -> None:
        if not self.reason.strip():
            raise EngineError(f"BIB {self.bib}: a manual time needs a reason (RULES §6)")
        if self.gun_time_us < 0 or (self.net_time_us is not None and self.net_time_us < 0):
            raise EngineError(f"BIB {self.bib}: a time cannot be negative")


@dataclass(frozen=True, slots=True)
class Ruling:
    """A judge's DNS, DNF or DQ; a DQ names its rule (`7.12`, `TR16.8`; RULES §6)."""

    bib: Bib
    status: RuledStatus
    rule: str | None = None
    reason: str = ""

    def __post_init__(self) -> None:
        if (self.status == "DQ") != bool(self.rule):
            raise EngineError(f"BIB {self.bib}: a DQ carries its rule, and only a DQ does")


@dataclass(frozen=True, slots=True)
class Performance:
    """What one runner did in one race, before places are given (RULES §6).

    ``status`` ``None``: no result yet (the race is running, or a judge has to decide).
    ``order_rank``: the runner's rank in a finish order that beats time order (photo-finish
    or judges), equal ranks for a dead heat; ``None`` when the chips' order applies.
    """

    bib: Bib
    status: ResultStatus | None
    gun_time_us: int | None = None
    net_time_us: int | None = None
    source: TimeSource | None = None
    order_rank: int | None = None
    order_source: OrderSource | None = None
    dq_rule: str | None = None
    reason: str | None = None

    def __post_init__(self) -> None:
        if (self.status == "OK") != (self.gun_time_us is not None):
            raise EngineError(f"BIB {self.bib}: a finisher has a gun time, only a finisher")
        if (self.status == "DQ") != bool(self.dq_rule):
            raise EngineError(f"BIB {self.bib}: a DQ carries its rule, and only a DQ does")
        if self.gun_time_us is not None and self.gun_time_us < 0:
            raise EngineError(f"BIB {self.bib}: negative gun time")

    @classmethod
    def finish(
        cls,
        bib: Bib,
        gun_time_us: int,
        *,
        source: TimeSource = "chip",
        net_time_us: int | None = None,
        order_rank: int | None = None,
        order_source: OrderSource | None = None,
        reason: str | None = None,
    ) -> Performance:
        """A finisher with a gun time."""
        if order_rank is not None and order_source is None:
            order_source = "photo_finish"
        return cls(
            bib,
            "OK",
            gun_time_us,
            net_time_us,
            source,
            order_rank,
            order_source,
            None,
            reason,
        )

    @classmethod
    def ruled(cls, ruling: Ruling) -> Performance:
        """A runner with a judge's DNS, DNF or DQ (no time, no place: RULES §6)."""
        return cls(ruling.bib, ruling.status, dq_rule=ruling.rule, reason=ruling.reason or None)

    @classmethod
    def awaiting(cls, bib: Bib) -> Performance:
        """A runner without a result yet."""
        return cls(bib, None)


@dataclass(frozen=True, slots=True)
class Resolution:
    """The performances of a race's runners, and the doubts met on the way."""

    performances: tuple[Performance, ...]
    exceptions: tuple[JudgesException, ...]


def resolve_performances(
    race_id: RaceId,
    bibs: Iterable[Bib],
    *,
    chip: Mapping[Bib, ChipFinish] | None = None,
    photo: PhotoFinish | None = None,
    manual_times: Iterable[ManualTime] = (),
    judges_order: Sequence[Bib] | None = None,
    rulings: Iterable[Ruling] = (),
    race_over: bool = False,
) -> Resolution:
    """Each runner's time and its source, best source first (RULES §6, issue 5).

    * a judge's DNS/DNF/DQ beats any time (the runner has no place);
    * time: manual (with its reason) > photo-finish > chip; net time: the manual one, else the
      gun time less the runner's own start offset measured by the start-line chip mat;
    * order: a judges' finish order > the photo-finish order > the times. A runner given a
      manual time leaves the photo-finish order (the judge's time places them);
    * a photo-finish line whose BIB is not in the race is a judges' exception; when
      ``race_over``, so is every runner still without a time or a status (reg 11.3.8).
    """
    runners = list(dict.fromkeys(bibs))
    in_race = set(runners)
    chip = chip or {}
    manual = _by_bib(manual_times, in_race, "manual time")
    ruled = _by_bib(rulings, in_race, "ruling")
    exceptions: list[JudgesException] = []

    photo_times: dict[Bib, int] = {}
    photo_rank: dict[Bib, int] = {}
    for placing in photo.placings if photo else ():
        if placing.bib not in in_race:
            exceptions.append(
                JudgesException(
                    "photo_finish_unmatched",
                    f"photo-finish file {photo.file_name if photo else ''!r} lists BIB "
                    f"{placing.bib}, who is not in this race",
                    race_id=race_id,
                    bib=placing.bib,
                )
            )
            continue
        if not placing.finished:
            continue
        if placing.time_us is not None:
            photo_times[placing.bib] = placing.time_us
        if placing.place is not None:
            photo_rank[placing.bib] = placing.place

    judges_rank: dict[Bib, int] = {}
    if judges_order is not None:
        for position, bib in enumerate(judges_order, start=1):
            if bib not in in_race:
                raise EngineError(f"judges' finish order lists BIB {bib}, not in race {race_id}")
            if bib in judges_rank:
                raise EngineError(f"judges' finish order lists BIB {bib} twice")
            judges_rank[bib] = position

    performances: list[Performance] = []
    for bib in runners:
        if bib in ruled:
            performances.append(Performance.ruled(ruled[bib]))
            continue
        crossing = chip.get(bib)
        source: TimeSource
        reason: str | None = None
        manual_net: int | None = None
        if bib in manual:
            gun, source = manual[bib].gun_time_us, "manual"
            reason, manual_net = manual[bib].reason, manual[bib].net_time_us
        elif bib in photo_times:
            gun, source = photo_times[bib], "photo_finish"
        elif crossing is not None:
            gun, source = crossing.gun_time_us, "chip"
        else:
            performances.append(Performance.awaiting(bib))
            if race_over:
                exceptions.append(
                    JudgesException(
                        "no_finish_time",
                        f"BIB {bib} has no finish time and no DNS/DNF/DQ",
                        race_id=race_id,
                        bib=bib,
                    )
                )
            continue
        net = manual_net
        if net is None and crossing is not None and crossing.start_offset_us is not None:
            offset_net = gun - crossing.start_offset_us
            net = offset_net if offset_net >= 0 else None
        rank: int | None = None
        order_source: OrderSource | None = None
        if judges_order is not None:
            if bib in judges_rank:
                rank, order_source = judges_rank[bib], "judges"
        elif bib in photo_rank and source != "manual":
            rank, order_source = photo_rank[bib], "photo_finish"
        performances.append(
            Performance.finish(
                bib,
                gun,
                source=source,
                net_time_us=net,
                order_rank=rank,
                order_source=order_source,
                reason=reason,
            )
        )
    return Resolution(tuple(performances), tuple(exceptions))


_Judged = TypeVar("_Judged", ManualTime, Ruling)


def _by_bib(items: Iterable[_Judged], in_race: set[Bib], what: str) -> dict[Bib, _Judged]:
    found: dict[Bib, _Judged] = {}
    for item in items:
        if item.bib not in in_race:
            raise EngineError(f"{what} for BIB {item.bib}, who is not in the race")
        found[item.bib] = item  # the latest entry for a BIB is the one that counts
    return found


__all__ = [
    "DurationForm",
    "ManualTime",
    "Performance",
    "PhotoFinish",
    "PhotoPlacing",
    "Resolution",
    "Ruling",
    "duration_form",
    "format_duration",
    "from_instant_us",
    "instant_us",
    "official_time_us",
    "parse_duration_us",
    "resolve_performances",
    "round_up",
    "tie_key_us",
]
