"""From raw chip reads to a finish (RULES §6, reg 11.3.8).

A read (device, timing point, chip, instant, device sequence) sent twice is kept once. The
reads of one chip at one timing point within the edition's cluster window are one crossing,
at the instant of the first read. On the track a runner crosses the finish line more than
once (100 m once, 1000 m 3 times, 3000 m 8 times: config ``finish_crossings``); the finish is
the first crossing whose count reaches that number and whose elapsed time is at least the
distance's minimum plausible time (earlier crossings are laps, not finishes). Unknown chips,
chips read in a race they do not belong to and reads outside every race window go to the
judges, as does a runner with too few crossings once the race is over.

Instants are integer microseconds since the Unix epoch (UTC); see
:func:`copa_ranking.engine.times.instant_us`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from copa_contracts.edition import DistanceConfig, RelayConfig, ResultRules
from copa_ranking.engine.judges import JudgesException
from copa_ranking.engine.terms import Bib, EngineError, ExceptionKind, RaceId
from copa_ranking.engine.times import format_duration

FINISH_POINT: Final = "finish"
"""Timing point of the finish line (`copa_contracts.timing.TimingPoint`)."""
START_POINT: Final = "start"
"""Timing point of the start line, where laid: net times (RULES §6)."""


@dataclass(frozen=True, slots=True)
class Passing:
    """One raw read as the timing system reported it (RULES §6)."""

    chip: str
    at_us: int
    timing_point: str = FINISH_POINT
    device_id: str = ""
    device_sequence: int = 0


@dataclass(frozen=True, slots=True)
class Crossing:
    """One crossing of a timing point by a chip: the first read of a cluster (RULES §6)."""

    chip: str
    timing_point: str
    at_us: int
    reads: int = 1
    """Raw reads the crossing collapses (at least 1)."""


def collapse_reads(passings: Iterable[Passing], results: ResultRules) -> tuple[Crossing, ...]:
    """Raw reads to crossings, in time order (RULES §6).

    The same read sent twice (same device, sequence, chip, point and instant) is kept once.
    Reads of one chip at one point less than ``read_cluster_us`` after the first read of a
    cluster belong to that cluster; the cluster is anchored at its first read, so a runner
    standing on the mat still makes a new crossing every window.
    """
    unique = {
        (p.device_id, p.device_sequence, p.chip, p.timing_point, p.at_us): p for p in passings
    }
    by_chip_point: dict[tuple[str, str], list[int]] = defaultdict(list)
    for p in unique.values():
        by_chip_point[(p.chip, p.timing_point)].append(p.at_us)
    window = results.read_cluster_us
    crossings: list[Crossing] = []
    for (chip, point), instants in by_chip_point.items():
        instants.sort()
        first, reads = instants[0], 0
        for at in instants:
            if at - first < window:
                reads += 1
                continue
            crossings.append(Crossing(chip, point, first, reads))
            first, reads = at, 1
        crossings.append(Crossing(chip, point, first, reads))
    crossings.sort(key=lambda c: (c.at_us, c.chip, c.timing_point))
    return tuple(crossings)


@dataclass(frozen=True, slots=True)
class ChipOwner:
    """Whose a chip is in a race: a runner's BIB, or a relay team's BIB and leg (RULES §8)."""

    bib: Bib
    leg: int | None = None
    finishes: bool = True
    """Whether this chip's finish crossing is the result: always for an individual; for a
    relay only the last leg's (RULES §8)."""


@dataclass(frozen=True, slots=True)
class RaceWindow:
    """When a race takes reads, and the chips that run in it.

    ``opens_at_us``: the start signal, or the scheduled start until the signal arrives.
    ``closes_at_us``: ``None`` while the race runs; once set the race is over and runners
    with too few crossings go to the judges.
    """

    race_id: RaceId
    opens_at_us: int
    closes_at_us: int | None
    chips: Mapping[str, ChipOwner] = field(default_factory=dict)

    def contains(self, at_us: int) -> bool:
        return self.opens_at_us <= at_us and (
            self.closes_at_us is None or at_us <= self.closes_at_us
        )


@dataclass(frozen=True, slots=True)
class CrossingSort:
    """Crossings per race, and those no race can take (for the judges)."""

    by_race: Mapping[RaceId, tuple[Crossing, ...]]
    exceptions: tuple[JudgesException, ...]


def assign_crossings(
    crossings: Iterable[Crossing],
    windows: Sequence[RaceWindow],
    known_chips: Collection[str] = (),
) -> CrossingSort:
    """Give each crossing to the race whose window holds it and whose start list has the chip.

    ``known_chips``: every chip paired with a BIB in the edition (the windows' chips are known
    too). Otherwise (reg 11.3.8, RULES §6, never dropped): a chip paired with nobody is
    ``unknown_chip``; a known chip in a window of races it does not run in is
    ``chip_not_in_race`` (reg 11.3.5: starting outside one's own race is a DQ); a known chip
    outside every window is ``read_outside_race_window``.
    """
    by_race: dict[RaceId, list[Crossing]] = {w.race_id: [] for w in windows}
    in_some_race = {chip for w in windows for chip in w.chips}
    exceptions: list[JudgesException] = []
    for crossing in crossings:
        open_windows = [w for w in windows if w.contains(crossing.at_us)]
        own = [w for w in open_windows if crossing.chip in w.chips]
        for window in own:
            by_race[window.race_id].append(crossing)
        if own:
            continue
        where = f"at {crossing.timing_point}, {crossing.reads} read(s)"
        race_id = open_windows[0].race_id if open_windows else None
        kind: ExceptionKind
        if crossing.chip not in in_some_race and crossing.chip not in known_chips:
            kind, detail = "unknown_chip", f"chip paired with no BIB {where}"
        elif open_windows:
            kind = "chip_not_in_race"
            detail = f"chip read during a race it is not drawn in {where} (reg 11.3.5)"
        else:
            kind, detail = "read_outside_race_window", f"read outside every race {where}"
        exceptions.append(
            JudgesException(
                kind,
                detail,
                race_id=race_id,
                chip=crossing.chip,
                at_us=crossing.at_us,
                reads=crossing.reads,
            )
        )
    return CrossingSort({k: tuple(v) for k, v in by_race.items()}, tuple(exceptions))


@dataclass(frozen=True, slots=True)
class FinishRule:
    """How a finish is recognised on a distance (RULES §6; numbers from the edition)."""

    crossings: int
    """Finish-line crossings that make the distance (100 m 1, 1000 m 3, 3000 m 8)."""
    min_finish_time_us: int
    """A crossing earlier than this after the start is a lap, not a finish."""

    def __post_init__(self) -> None:
        if self.crossings < 1 or self.min_finish_time_us < 0:
            raise EngineError("a finish needs at least one crossing and a non-negative time")

    @classmethod
    def of(cls, distance: DistanceConfig) -> FinishRule:
        return cls(distance.finish_crossings, distance.min_finish_time_us)

    @classmethod
    def relay(cls, relay: RelayConfig) -> FinishRule:
        # RULES §8: the last leg (100 m, from the 1,400 m mark) crosses the finish line once.
        return cls(1, relay.min_finish_time_us)


@dataclass(frozen=True, slots=True)
class ChipFinish:
    """A finish found in the chip reads (source ``chip``)."""

    bib: Bib
    chip: str
    finish_at_us: int
    gun_time_us: int
    """From the race's start signal to the finish crossing (reg 11.4: official)."""
    start_offset_us: int | None
    """From the start signal to the runner's own start-line crossing, if one was read."""
    crossing_number: int
    """Which finish-line crossing after the start was the finish (1 = the first)."""

    @property
    def net_time_us(self) -> int | None:
        """From the runner's own start crossing to the finish (RULES §6: information)."""
        if self.start_offset_us is None:
            return None
        return self.gun_time_us - self.start_offset_us


@dataclass(frozen=True, slots=True)
class ChipTrace:
    """Everything one chip did in a race, as elapsed times from the start signal."""

    chip: str
    owner: ChipOwner
    finish_line_us: tuple[int, ...]
    """Elapsed times of its finish-line crossings after the start signal (laps and finish)."""
    start_line_us: int | None
    """Its own start-line crossing, if read."""
    elsewhere: tuple[tuple[str, int], ...] = ()
    """Other timing points (e.g. relay exchange zones, RULES §8): (point, elapsed)."""
    before_start: int = 0
    """Crossings before the start signal (inside the window): not counted."""


@dataclass(frozen=True, slots=True)
class FinishDetection:
    """The chip finishes of a race, every chip's trace, and the doubts for the judges."""

    finishes: Mapping[Bib, ChipFinish]
    traces: tuple[ChipTrace, ...]
    exceptions: tuple[JudgesException, ...]


def detect_finishes(
    window: RaceWindow,
    start_signal_us: int | None,
    crossings: Iterable[Crossing],
    rule: FinishRule,
) -> FinishDetection:
    """Find each runner's finish crossing in a race's crossings (RULES §6).

    Crossings of chips not on the race's list are ``chip_not_in_race`` exceptions; a race
    without a start signal has no gun times (``start_missing``); once the race is over
    (``window.closes_at_us`` set), a finishing chip with crossings but no finish is
    ``too_few_crossings``. A runner never read at all is left to
    :func:`~copa_ranking.engine.times.resolve_performances` (``no_finish_time``).
    """
    listed = list(crossings)
    exceptions: list[JudgesException] = []
    if start_signal_us is None:
        exceptions.append(
            JudgesException(
                "start_missing",
                f"no start signal: {len(listed)} crossing(s) wait for one (reg 11.4)",
                race_id=window.race_id,
            )
        )
        return FinishDetection({}, (), tuple(exceptions))

    per_chip: dict[str, list[Crossing]] = defaultdict(list)
    for crossing in listed:
        if crossing.chip not in window.chips:
            exceptions.append(
                JudgesException(
                    "chip_not_in_race",
                    f"chip read at {crossing.timing_point} in a race it is not drawn in "
                    "(reg 11.3.5)",
                    race_id=window.race_id,
                    chip=crossing.chip,
                    at_us=crossing.at_us,
                    reads=crossing.reads,
                )
            )
            continue
        per_chip[crossing.chip].append(crossing)

    finishes: dict[Bib, ChipFinish] = {}
    traces: list[ChipTrace] = []
    race_over = window.closes_at_us is not None
    for chip in sorted(per_chip):
        owner = window.chips[chip]
        trace = _trace(chip, owner, per_chip[chip], start_signal_us)
        traces.append(trace)
        if not owner.finishes:
            continue
        finish = _finish_of(trace, rule, start_signal_us)
        if finish is not None:
            best = finishes.get(owner.bib)
            if best is None or finish.finish_at_us < best.finish_at_us:
                finishes[owner.bib] = finish
        elif race_over and trace.finish_line_us:
            laps = ", ".join(format_duration(elapsed, 3) for elapsed in trace.finish_line_us)
            exceptions.append(
                JudgesException(
                    "too_few_crossings",
                    f"BIB {owner.bib}: {len(trace.finish_line_us)} finish-line crossing(s) "
                    f"({laps}); the distance needs {rule.crossings}, the last one at least "
                    f"{format_duration(rule.min_finish_time_us, 3)} after the start",
                    race_id=window.race_id,
                    chip=chip,
                    bib=owner.bib,
                )
            )
    # A spare chip of a runner who finished on another chip is no doubt: drop its exception.
    exceptions = [
        e for e in exceptions if not (e.kind == "too_few_crossings" and e.bib in finishes)
    ]
    return FinishDetection(finishes, tuple(traces), tuple(exceptions))


def _trace(chip: str, owner: ChipOwner, crossings: list[Crossing], start_us: int) -> ChipTrace:
    finish_line: list[int] = []
    start_line: int | None = None
    elsewhere: list[tuple[str, int]] = []
    before = 0
    for crossing in sorted(crossings, key=lambda c: c.at_us):
        elapsed = crossing.at_us - start_us
        if elapsed < 0:
            before += 1
        elif crossing.timing_point == FINISH_POINT:
            finish_line.append(elapsed)
        elif crossing.timing_point == START_POINT:
            if start_line is None:
                start_line = elapsed
        else:
            elsewhere.append((crossing.timing_point, elapsed))
    return ChipTrace(chip, owner, tuple(finish_line), start_line, tuple(elsewhere), before)


def _finish_of(trace: ChipTrace, rule: FinishRule, start_us: int) -> ChipFinish | None:
    for number, elapsed in enumerate(trace.finish_line_us, start=1):
        # RULES §6: the crossing whose count and elapsed time fit the distance.
        if number >= rule.crossings and elapsed >= rule.min_finish_time_us:
            start_offset = trace.start_line_us
            if start_offset is not None and start_offset > elapsed:
                start_offset = None
            return ChipFinish(
                trace.owner.bib,
                trace.chip,
                start_us + elapsed,
                elapsed,
                start_offset,
                number,
            )
    return None


__all__ = [
    "FINISH_POINT",
    "START_POINT",
    "ChipFinish",
    "ChipOwner",
    "ChipTrace",
    "Crossing",
    "CrossingSort",
    "FinishDetection",
    "FinishRule",
    "Passing",
    "RaceWindow",
    "assign_crossings",
    "collapse_reads",
    "detect_finishes",
]
