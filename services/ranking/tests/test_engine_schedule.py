"""The day's programme (RULES §5, reg 3.1)."""

from __future__ import annotations

import datetime as dt
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from copa_contracts.common import RaceGender
from copa_contracts.edition import load_edition
from copa_ranking.engine import (
    DaySchedule,
    GroupFormat,
    RaceGroup,
    build_schedule,
    plan_group,
    relay_division,
    relay_group,
)

EDITION = load_edition()
REST = dt.timedelta(minutes=EDITION.schedule.min_rest_before_final_minutes)
DAY_START = dt.datetime.combine(EDITION.date, EDITION.starts_at)
DAY_END = dt.datetime.combine(EDITION.date, EDITION.ends_at)


def group(distance: str, gender: RaceGender, category: str) -> RaceGroup:
    return RaceGroup(distance, gender, category)


def formats(starters: dict[RaceGroup, int]) -> dict[RaceGroup, GroupFormat]:
    out = {}
    for g, n in starters.items():
        division = (
            relay_division(EDITION.relay)
            if g.distance == EDITION.relay.code
            else EDITION.distance(g.distance).division
        )
        out[g] = plan_group(n, division)
    return out


def test_the_day_starts_at_the_configured_first_start() -> None:
    schedule = build_schedule(formats({group("100m", "M", "18-34"): 6}), EDITION)
    (race,) = schedule.races
    assert race.starts_at == DAY_START == dt.datetime(2024, 3, 17, 8, 30)
    assert race.ends_at - race.starts_at == dt.timedelta(
        minutes=EDITION.distance("100m").race_slot_minutes
    )
    assert race.round == "final"


def test_groups_run_in_the_configured_order() -> None:
    groups = formats(
        {
            group("3000m", "F", "18-34"): 10,
            group("100m", "F", "35-44"): 5,
            group("100m", "M", "55+"): 5,
            group("100m", "M", "18-34"): 5,
            relay_group(EDITION.relay): 8,
        }
    )
    schedule = build_schedule(groups, EDITION)
    assert [str(r.group) for r in schedule.races] == [
        "100m M 18-34",
        "100m M 55+",
        "100m F 35-44",
        "3000m F 18-34",
        "relay X open",
    ]


def test_a_final_waits_for_the_minimum_rest_after_its_last_heat() -> None:
    sprint = group("100m", "M", "18-34")
    schedule = build_schedule(formats({sprint: 20}), EDITION)
    heats = [r for r in schedule.races if r.round == "heat"]
    (final,) = [r for r in schedule.races if r.round == "final"]
    assert len(heats) == 3
    assert final.starts_at == max(h.ends_at for h in heats) + REST


def test_other_groups_fill_the_track_while_a_final_waits() -> None:
    groups = formats({group("100m", "M", "18-34"): 20, group("100m", "M", "35-44"): 20})
    schedule = build_schedule(groups, EDITION)
    rounds = [(str(r.group), r.round) for r in schedule.races]
    assert rounds.index(("100m M 35-44", "heat")) < rounds.index(("100m M 18-34", "final"))


def test_a_programme_that_fits_reports_nothing() -> None:
    schedule = build_schedule(formats({group("1000m", "F", "18-34"): 40}), EDITION)
    assert schedule.fits
    assert schedule.report() == ""


def test_what_runs_past_the_end_is_scheduled_and_reported_never_dropped() -> None:
    every_group = {
        group(d.code, c.gender, c.code): 200 if d.code != "100m" else 90
        for d in EDITION.distances
        for c in d.age_categories
    }
    schedule = build_schedule(formats(every_group), EDITION)
    assert not schedule.fits
    expected = sum(f.race_count for f in formats(every_group).values())
    assert len(schedule.races) == expected
    late = {r.group for r in schedule.races if r.ends_at > DAY_END}
    assert {o.group for o in schedule.overruns} == late
    assert "do not fit" in schedule.report()
    assert str(schedule.overruns[-1].group) in schedule.report()


# --- properties -------------------------------------------------------------------------------

ALL_GROUPS = [group(d.code, c.gender, c.code) for d in EDITION.distances for c in d.age_categories]
ALL_GROUPS.append(relay_group(EDITION.relay))


@st.composite
def programmes(draw: st.DrawFn) -> dict[RaceGroup, GroupFormat]:
    chosen = draw(st.lists(st.sampled_from(ALL_GROUPS), unique=True, max_size=12))
    return formats({g: draw(st.integers(1, 120)) for g in chosen})


def check_schedule(schedule: DaySchedule, groups: dict[RaceGroup, GroupFormat]) -> None:
    races = sorted(schedule.races, key=lambda r: r.starts_at)
    assert [r.number for r in schedule.races] == list(range(1, len(races) + 1))
    for before, after in pairwise(races):
        assert before.ends_at <= after.starts_at  # never two races at once
    assert all(r.starts_at >= DAY_START for r in races)
    assert len(races) == sum(f.race_count for f in groups.values())
    for g, f in groups.items():
        mine = [r for r in races if r.group == g]
        assert len(mine) == f.race_count  # every race of every group, once
        if f.has_final:
            heats = [r for r in mine if r.round == "heat"]
            (final,) = [r for r in mine if r.round == "final"]
            assert final.starts_at >= max(h.ends_at for h in heats) + REST
    reported = {r for o in schedule.overruns for r in o.races}
    assert reported == {r for r in races if r.ends_at > DAY_END}
    assert schedule.fits == (schedule.last_race_ends_at <= DAY_END)


@settings(max_examples=60)
@given(programmes())
def test_the_schedule_never_overlaps_nor_ends_late_without_saying_so(
    groups: dict[RaceGroup, GroupFormat],
) -> None:
    check_schedule(build_schedule(groups, EDITION), groups)
