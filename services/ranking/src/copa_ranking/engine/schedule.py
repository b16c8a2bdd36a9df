"""The day's programme (RULES §5, reg 3.1, 11.3.5).

Races run one at a time from the edition's first start (08:30) in the configured order of
groups: distances in ``schedule.distance_order``, genders in ``schedule.gender_order`` (the
mixed relay after them), categories in the order the distance lists them. Each race takes its
distance's configured slot. A final runs after every round-1 race of its group, with at least
``min_rest_before_final_minutes`` between the end of the group's last heat and the final's
start; while a final waits, the next groups' races fill the track.

Nothing is dropped: every race gets a time, and each group whose races end after the
edition's end (17:00) is reported, so the organizers see what does not fit (RULES §5).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from copa_contracts.edition import Edition
from copa_ranking.engine.draw import GroupFormat
from copa_ranking.engine.groups import RaceGroup
from copa_ranking.engine.terms import EngineError, RoundKind


@dataclass(frozen=True, slots=True)
class ScheduledRace:
    """One race in the programme; times are local wall-clock times of the edition (reg 3.1)."""

    number: int
    """Number of the race in the day's programme, 1 first."""
    group: RaceGroup
    round: RoundKind
    heat_number: int
    starts_at: dt.datetime
    ends_at: dt.datetime


@dataclass(frozen=True, slots=True)
class Overrun:
    """A group that does not fit in the edition's hours: its races that end too late."""

    group: RaceGroup
    races: tuple[ScheduledRace, ...]

    @property
    def ends_at(self) -> dt.datetime:
        return max(race.ends_at for race in self.races)


@dataclass(frozen=True, slots=True)
class DaySchedule:
    """The programme and what does not fit into it (RULES §5)."""

    races: tuple[ScheduledRace, ...]
    day_starts_at: dt.datetime
    day_ends_at: dt.datetime
    """The edition's end (reg 3.1: everything ends by 17:00)."""
    overruns: tuple[Overrun, ...]

    @property
    def fits(self) -> bool:
        return not self.overruns

    @property
    def last_race_ends_at(self) -> dt.datetime:
        return max((race.ends_at for race in self.races), default=self.day_starts_at)

    def report(self) -> str:
        """What does not fit, in words for the organizers (empty when all fits)."""
        if self.fits:
            return ""
        lines = [
            f"The programme ends at {self.last_race_ends_at:%H:%M}, after "
            f"{self.day_ends_at:%H:%M}; these groups do not fit:"
        ]
        for overrun in self.overruns:
            races = ", ".join(_race_name(race) for race in overrun.races)
            lines.append(f"- {overrun.group}: {races} (ends {overrun.ends_at:%H:%M})")
        return "\n".join(lines)


@dataclass(slots=True)
class _Pending:
    group: RaceGroup
    round: RoundKind
    heat_number: int
    minutes: int


def group_order_key(group: RaceGroup, edition: Edition) -> tuple[int, int, int]:
    """Programme order of a group (RULES §5: the configured order)."""
    order = edition.schedule
    if group.distance not in order.distance_order:
        raise EngineError(f"{group}: distance not in the programme's order")
    distance_index: int = order.distance_order.index(group.distance)
    genders: list[str] = list(order.gender_order)
    gender_index = genders.index(group.gender) if group.gender in genders else len(genders)
    if group.distance == edition.relay.code:
        categories = [edition.relay.category]
    else:
        categories = [c.code for c in edition.distance(group.distance).age_categories]
    if group.category not in categories:
        raise EngineError(f"{group}: category not configured for {group.distance}")
    category_index: int = categories.index(group.category)
    return distance_index, gender_index, category_index


def slot_minutes(distance: str, edition: Edition) -> int:
    """The programme time one race of ``distance`` takes (RULES §5: config)."""
    minutes: int = (
        edition.relay.race_slot_minutes
        if distance == edition.relay.code
        else edition.distance(distance).race_slot_minutes
    )
    return minutes


def build_schedule(groups: Mapping[RaceGroup, GroupFormat], edition: Edition) -> DaySchedule:
    """Times for every race of the day, and the report of what ends too late (RULES §5)."""
    day_start = dt.datetime.combine(edition.date, edition.starts_at)
    day_end = dt.datetime.combine(edition.date, edition.ends_at)
    rest = dt.timedelta(minutes=edition.schedule.min_rest_before_final_minutes)

    pending: list[_Pending] = []
    for group in sorted(groups, key=lambda g: group_order_key(g, edition)):
        group_format = groups[group]
        minutes = slot_minutes(group.distance, edition)
        pending.extend(
            _Pending(group, group_format.first_round, number, minutes)
            for number in range(1, len(group_format.race_sizes) + 1)
        )
        if group_format.has_final:
            pending.append(_Pending(group, "final", 1, minutes))

    heats_left = {g: len(f.race_sizes) for g, f in groups.items() if f.has_final}
    last_heat_end: dict[RaceGroup, dt.datetime] = {}
    scheduled: list[ScheduledRace] = []
    clock = day_start
    while pending:
        chosen = None
        for index, item in enumerate(pending):
            ready = _ready_at(item, heats_left, last_heat_end, rest)
            if ready is not None and ready <= clock:
                chosen = index
                break
        if chosen is None:
            # Only finals waiting for their rest: the track is idle until the first is ready.
            waits = [_ready_at(item, heats_left, last_heat_end, rest) for item in pending]
            clock = min(w for w in waits if w is not None)
            continue
        item = pending.pop(chosen)
        ends = clock + dt.timedelta(minutes=item.minutes)
        scheduled.append(
            ScheduledRace(len(scheduled) + 1, item.group, item.round, item.heat_number, clock, ends)
        )
        if item.round == "heat":
            heats_left[item.group] -= 1
            last_heat_end[item.group] = ends
        clock = ends

    late: dict[RaceGroup, list[ScheduledRace]] = {}
    for race in scheduled:
        if race.ends_at > day_end:
            late.setdefault(race.group, []).append(race)
    overruns = tuple(Overrun(group, tuple(races)) for group, races in late.items())
    return DaySchedule(tuple(scheduled), day_start, day_end, overruns)


def _ready_at(
    item: _Pending,
    heats_left: Mapping[RaceGroup, int],
    last_heat_end: Mapping[RaceGroup, dt.datetime],
    rest: dt.timedelta,
) -> dt.datetime | None:
    """When an item may start: heats at once; a final ``rest`` after its last heat."""
    if item.round != "final" or item.group not in heats_left:
        return dt.datetime.min
    if heats_left[item.group]:
        return None
    return last_heat_end[item.group] + rest


def _race_name(race: ScheduledRace) -> str:
    if race.round == "final":
        return "final"
    return f"race {race.heat_number}"


__all__ = [
    "DaySchedule",
    "Overrun",
    "ScheduledRace",
    "build_schedule",
    "group_order_key",
    "slot_minutes",
]
