"""How a race is run, and what the timing hardware sends about it (issue 8). Pure.

A race has a start signal; every starter crosses the finish line ``finish_crossings`` times
(RULES §6: the 1000 m and 3000 m start at the 200 m mark, so each lap passes the line), the
chip being read one to four times per crossing, now and then a read missed (never every read
of a finish: that would be a case for the judges' backup timing, which this model leaves
out). Reads go out in the finish system's own format (IPICO for the 100 m, ChronoTrack for the
1000 m, RFID Ultra for the 3000 m; TIMING-FORMATS.md), the start mat's as a CSV log (net
times, RULES §6), in posts of about a second of reads, some out of order and some sent twice.
Every 100 m race also gets a photo-finish ``.lif`` file (its order and times beat the chips',
RULES §6). A few runners do not start, do not finish, or are disqualified.

The medley relay (RULES §8) starts at the 1,500 m start, 300 m before the finish line: the
line is crossed 300, 700, 1,100 and 1,500 m into the race, by legs 1, 1, 2 and 4 (leg 3 runs
from the 1,200 m to the 1,400 m mark), each runner wearing a chip; the last crossing is the
team's finish. A few teams do not start or do not finish.

The truth the platform is checked against follows from what was sent: a finish's raw gun
time is its earliest read (in the format's resolution) minus the gun, or the photo-finish
time for the 100 m.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Literal

from copa_contracts.edition import DistanceConfig, RelayConfig
from copa_timing_ingest.formats.ipico import build_line as ipico_line

Status = Literal["OK", "DNS", "DNF", "DQ"]
FinishFormat = Literal["ipico", "chronotrack", "ultra"]

FORMAT_OF_DISTANCE: dict[int, FinishFormat] = {100: "ipico", 1000: "chronotrack"}
"""The finish system per distance; any other distance (the 3000 m) uses RFID Ultra."""
QUANTUM_US: dict[str, int] = {"ipico": 10_000, "chronotrack": 10_000, "ultra": 1_000}
"""The resolution a format carries: IPICO and ChronoTrack hundredths, Ultra milliseconds."""
DQ_RULE = {100: "TR 17.3.1", 1000: "TR 17.1.2"}
"""World Athletics rules a judge cites: leaving the lane (100 m), jostling (other distances)."""
ULTRA_EPOCH = dt.datetime(1980, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Runner:
    """A starter of a race as the simulation sees them."""

    bib: int
    chip: str
    lane: int | None
    ability_us: int
    last_name: str
    first_name: str
    club: str | None


@dataclass
class Outcome:
    """What really happened to one runner in one race: the simulation's truth."""

    bib: int
    status: Status
    finish_us: int | None = None
    """Raw gun time the platform must find (us after the gun), for a finisher."""
    net_us: int | None = None
    dq_rule: str | None = None
    crossings_us: list[int] = field(default_factory=list)
    """True finish-line crossings, us after the gun (the last one is the finish)."""


@dataclass(frozen=True)
class Read:
    chip: str
    at: dt.datetime
    """UTC, already in the resolution of the format that carries it."""
    timing_point: Literal["start", "finish"]
    antenna: int


@dataclass
class RaceRun:
    """Everything one race sends, and its truth."""

    outcomes: dict[int, Outcome]
    finish_reads: list[Read]
    start_reads: list[Read]
    finish_format: FinishFormat
    lif: str | None = None
    chip_bib: dict[str, int] = field(default_factory=dict)
    """Every chip of the race and the BIB it is read for (a relay runner's: the team's)."""


def finish_format(distance: DistanceConfig) -> FinishFormat:
    return FORMAT_OF_DISTANCE.get(distance.length_m, "ultra")


def run_race(
    rng: random.Random,
    distance: DistanceConfig,
    runners: list[Runner],
    gun: dt.datetime,
    *,
    race_label: tuple[int, int, int, str],
    time_zone: dt.tzinfo,
    dns_share: float = 0.02,
    dnf_share: float = 0.015,
    dq_share: float = 0.01,
    missed_read_share: float = 0.12,
    force_dq: bool = False,
) -> RaceRun:
    """One race: outcomes, the reads of both timing points, and the 100 m's ``.lif`` file.

    ``race_label``: event number, round, heat and name for the ``.lif`` header;
    ``force_dq``: one runner is disqualified whatever the draw of chances.
    """
    fmt = finish_format(distance)
    quantum = QUANTUM_US[fmt]
    crossings = distance.finish_crossings
    outcomes: dict[int, Outcome] = {}
    finish_reads: list[Read] = []
    start_reads: list[Read] = []
    lif_times: dict[int, int] = {}
    timed_by_photo = distance.length_m == 100
    forced = rng.choice(runners).bib if force_dq and runners else None
    for runner in runners:
        roll = rng.random()
        status: Status = "OK"
        if runner.bib == forced:
            roll = dns_share + dnf_share  # a disqualification to protest (reg 17)
        if roll < dns_share:
            status = "DNS"
        elif roll < dns_share + dnf_share:
            status = "DNF"
        elif roll < dns_share + dnf_share + dq_share:
            status = "DQ"
        outcome = Outcome(runner.bib, status)
        outcomes[runner.bib] = outcome
        if status == "DNS":
            continue
        # Reaction and the start-mat crossing; a pace a little uneven lap by lap.
        start_us = rng.randint(150_000, 400_000) if timed_by_photo else rng.randint(0, 3_500_000)
        total = runner.ability_us
        first_leg_m = distance.length_m - 400 * (crossings - 1)
        marks = [first_leg_m + 400 * k for k in range(crossings)]
        times = [start_us + int((total - start_us) * m / distance.length_m) for m in marks]
        times[-1] = total
        for k in range(1, len(times) - 1):
            times[k] += rng.randint(-400_000, 400_000)
        if status == "DNF":
            times = times[: rng.randint(0, len(times) - 1)] if crossings > 1 else []
        outcome.crossings_us = times
        if not timed_by_photo:
            start_reads.append(
                Read(runner.chip, _at(gun, start_us, 1_000), "start", rng.randint(1, 4))
            )
        for crossing, at_us in enumerate(times, start=1):
            reads = _crossing_reads(rng, runner.chip, gun, at_us, quantum, missed_read_share)
            finish_reads.extend(reads)
            if crossing == crossings:
                first = min(r.at for r in reads)
                outcome.finish_us = _us(first - gun)
                if not timed_by_photo:
                    outcome.net_us = outcome.finish_us - _us(start_reads[-1].at - gun)
        if status == "DQ":
            outcome.dq_rule = DQ_RULE.get(distance.length_m, DQ_RULE[1000])
        if timed_by_photo and status in ("OK", "DQ"):
            lif_times[runner.bib] = -(-total // 1000) * 1000  # the camera: thousandths
    lif = None
    if timed_by_photo:
        _separate_photo_ties(lif_times)
        for bib, outcome in outcomes.items():
            if bib in lif_times:
                outcome.finish_us = lif_times[bib]
                outcome.net_us = None
        lif = lif_file(race_label, runners, outcomes, gun, time_zone)
    chip_bib = {r.chip: r.bib for r in runners}
    return RaceRun(outcomes, finish_reads, start_reads, fmt, lif, chip_bib)


RELAY_FORMAT: FinishFormat = "chronotrack"
"""The relay's finish system (the 1000 m's, whose track it shares)."""


@dataclass(frozen=True)
class RelayTeam:
    """A relay team as the simulation sees it: its BIB and, in leg order, each runner's chip
    and the time they run their leg in."""

    bib: int
    chips: tuple[str, ...]
    leg_us: tuple[int, ...]


def run_relay(
    rng: random.Random,
    relay: RelayConfig,
    teams: list[RelayTeam],
    gun: dt.datetime,
    *,
    dns_share: float = 0.03,
    dnf_share: float = 0.03,
    missed_read_share: float = 0.12,
) -> RaceRun:
    """One relay race: every team's finish-line crossings, read on each runner's chip."""
    quantum = QUANTUM_US[RELAY_FORMAT]
    total_m = sum(relay.legs_m)
    ends_m = [sum(relay.legs_m[: k + 1]) for k in range(len(relay.legs_m))]
    lines_m = list(range(total_m % 400 or 400, total_m + 1, 400))
    outcomes: dict[int, Outcome] = {}
    reads: list[Read] = []
    for team in teams:
        roll = rng.random()
        status: Status = (
            "DNS" if roll < dns_share else "DNF" if roll < dns_share + dnf_share else "OK"
        )
        outcome = Outcome(team.bib, status)
        outcomes[team.bib] = outcome
        if status == "DNS":
            continue
        # When each leg starts and ends: a reaction, then the legs one after another.
        ends_us = []
        at = rng.randint(150_000, 400_000)
        for leg_us in team.leg_us:
            at += leg_us
            ends_us.append(at)
        crossings = []
        for line_m in lines_m:
            leg = next(k for k, end in enumerate(ends_m) if line_m <= end)
            started_m = ends_m[leg - 1] if leg else 0
            started_us = ends_us[leg - 1] if leg else 0
            part = (line_m - started_m) / relay.legs_m[leg]
            crossings.append((leg, started_us + int((ends_us[leg] - started_us) * part)))
        if status == "DNF":  # the last runner never reaches the line
            crossings = crossings[: rng.randint(0, len(crossings) - 1)]
        outcome.crossings_us = [at_us for _, at_us in crossings]
        for number, (leg, at_us) in enumerate(crossings, start=1):
            chip = team.chips[leg]
            crossing = _crossing_reads(rng, chip, gun, at_us, quantum, missed_read_share)
            reads.extend(crossing)
            if number == len(lines_m):
                outcome.finish_us = _us(min(r.at for r in crossing) - gun)
    chip_bib = {chip: team.bib for team in teams for chip in team.chips}
    return RaceRun(outcomes, reads, [], RELAY_FORMAT, None, chip_bib)


def _crossing_reads(
    rng: random.Random, chip: str, gun: dt.datetime, at_us: int, quantum: int, missed: float
) -> list[Read]:
    count = rng.choice((1, 2, 3, 3, 4))
    offsets = sorted(rng.randint(0, 350_000) for _ in range(count))
    offsets[0] = rng.randint(0, 20_000)
    kept = [o for o in offsets if rng.random() >= missed] or [offsets[-1]]
    return [Read(chip, _at(gun, at_us + o, quantum), "finish", rng.randint(1, 4)) for o in kept]


def _separate_photo_ties(times: dict[int, int]) -> None:
    """Distinct photo times within a race: the camera separates runners at 1/1000 s, and a
    dead heat for the last place in a final would need a lot the simulation cannot foresee."""
    seen: set[int] = set()
    for bib in sorted(times, key=lambda b: (times[b], b)):
        while times[bib] in seen:
            times[bib] += 1000
        seen.add(times[bib])


def _at(gun: dt.datetime, after_us: int, quantum: int) -> dt.datetime:
    """The instant ``after_us`` after the gun, cut down to the format's resolution."""
    instant = gun + dt.timedelta(microseconds=after_us)
    epoch_us = _us(instant - ULTRA_EPOCH)
    return ULTRA_EPOCH + dt.timedelta(microseconds=epoch_us - epoch_us % quantum)


def _us(delta: dt.timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


# --- what the devices send -----------------------------------------------------------------


def render_finish(fmt: FinishFormat, reads: list[Read], zone: dt.tzinfo, sequence: int) -> str:
    """One post of a finish device, in its own format (TIMING-FORMATS.md)."""
    lines = []
    for n, read in enumerate(reads, start=sequence):
        local = read.at.astimezone(zone).replace(tzinfo=None)
        if fmt == "ipico":
            lines.append(ipico_line(read.chip, local))
        elif fmt == "chronotrack":
            hundredths = local.microsecond // 10_000
            lines.append(
                f"CT01_33~{n}~finish~{read.chip}~{local:%H:%M:%S}.{hundredths:02d}~0~"
                f"SIMFIN~{read.antenna}"
            )
        else:
            since = read.at - ULTRA_EPOCH
            seconds = since.days * 86_400 + since.seconds
            millis = since.microseconds // 1000
            lines.append(
                f"0,{read.chip},{seconds},{millis},{read.antenna},-62,0,1,1,0000000000000000,0,{n}"
            )
    return "\n".join(lines) + "\n"


def render_start_mat(reads: list[Read]) -> str:
    """The start mat's log as generic CSV with full instants (RULES §6: net time)."""
    rows = ["chip,time,location,antenna"]
    rows += [f"{r.chip},{r.at.isoformat()},start,{r.antenna}" for r in reads]
    return "\n".join(rows) + "\n"


def lif_file(
    label: tuple[int, int, int, str],
    runners: list[Runner],
    outcomes: dict[int, Outcome],
    gun: dt.datetime,
    zone: dt.tzinfo,
) -> str:
    """A FinishLynx result file: header, then one line per athlete in place order."""
    event, round_number, heat, name = label
    local = gun.astimezone(zone)
    start = f"{local:%H:%M:%S}.{local.microsecond // 1000:03d}"
    header = f"{event},{round_number},{heat},{name},+0.4,m/s,,,,100,{start}"
    by_bib = {r.bib: r for r in runners}
    timed = sorted(
        (o for o in outcomes.values() if o.status in ("OK", "DQ") and o.finish_us is not None),
        key=lambda o: (o.finish_us, o.bib),
    )
    lines = [header]
    for place, outcome in enumerate(timed, start=1):
        runner = by_bib[outcome.bib]
        seconds = (outcome.finish_us or 0) / 1_000_000
        lines.append(
            f"{place},{runner.bib},{runner.lane or ''},{runner.last_name},{runner.first_name},"
            f"{runner.club or ''},{seconds:.3f},,,"
        )
    for status in ("DNF", "DNS"):
        for outcome in outcomes.values():
            if outcome.status == status:
                runner = by_bib[outcome.bib]
                lines.append(
                    f"{status},{runner.bib},{runner.lane or ''},{runner.last_name},"
                    f"{runner.first_name},{runner.club or ''},,,,"
                )
    return "\r\n".join(lines) + "\r\n"


def device_posts(
    rng: random.Random,
    reads: list[Read],
    *,
    window_us: int = 1_000_000,
    shuffle_share: float = 0.2,
    resend_share: float = 0.08,
    zone: dt.tzinfo = dt.UTC,
) -> list[tuple[list[Read], bool]]:
    """The reads as a device posts them: about a second of reads per post (in time order), a
    post now and then out of order, and now and then a post sent again (a lost
    acknowledgement). Each item: the post's reads, and whether it is a re-send. A post never
    spans midnight in ``zone``: formats that carry a time of day are posted with their day."""
    ordered = sorted(reads, key=lambda r: r.at)
    posts: list[list[Read]] = []
    current: list[Read] = []
    window_end: dt.datetime | None = None
    current_day: dt.date | None = None
    for read in ordered:
        day = local_day(read, zone)
        if window_end is None or read.at >= window_end or day != current_day:
            if current:
                posts.append(current)
            current, current_day = [], day
            window_end = read.at + dt.timedelta(microseconds=window_us)
        current.append(read)
    if current:
        posts.append(current)
    out: list[tuple[list[Read], bool]] = []
    for post in posts:
        if len(post) > 1 and rng.random() < shuffle_share:
            post = post[:]
            rng.shuffle(post)
        out.append((post, False))
        if rng.random() < resend_share:
            out.append((post, True))
    return out


def local_day(read: Read, zone: dt.tzinfo) -> dt.date:
    """The local date a read's time of day belongs to."""
    return read.at.astimezone(zone).date()
