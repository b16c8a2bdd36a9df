"""The simulation's own parts, without services: its truth, its field, its race model."""

from __future__ import annotations

import datetime as dt
import random
import tomllib
from zoneinfo import ZoneInfo

from copa.simulate import truth
from copa.simulate.field import plan_field
from copa.simulate.races import Outcome, Runner, device_posts, render_finish, run_race
from copa.simulate.rehearsal import rehearsal_text
from copa_contracts.edition import Edition, find_editions_dir, load_edition
from copa_timing_ingest.formats import parse

ALMATY = ZoneInfo("Asia/Almaty")


def ok(bib: int, us: int) -> Outcome:
    return Outcome(bib, "OK", finish_us=us)


def test_equal_times_at_a_thousandth_share_a_place_and_the_next_is_skipped() -> None:
    lines = truth.race_lines(
        [ok(1, 10_000_000), ok(2, 10_000_400), ok(3, 10_000_900), ok(4, 10_001_001)]
    )
    # 10.0004 and 10.0009 both round up to 10.001: a tie with each other (RULES §5)...
    assert [lines[b].place for b in (1, 2, 3, 4)] == [1, 2, 2, 4]
    assert lines[4].official_us == 10_010_000  # ... and 10.001001 shows as 10.01 (RULES §6)


def test_a_final_places_first_and_round_one_continues_after_all_its_runners() -> None:
    heats = [[ok(1, 11_000_000), ok(2, 12_000_000)], [ok(3, 11_500_000), Outcome(4, "DNS")]]
    final = [ok(1, 11_200_000), Outcome(3, "DNF")]
    entries, placing = truth.group_standings(heats, final)
    assert entries[1].place == 1
    assert entries[2].place == 3  # after both finalists, the finisher too
    assert entries[3].place is None
    assert entries[3].status == "DNF"
    assert entries[4].status == "DNS"
    assert placing[1] == 11_200_000  # the final's time places a finalist overall


def test_qualifiers_are_the_fastest_across_heats() -> None:
    heat = [ok(b, 11_000_000 + b * 1000) for b in range(1, 11)]
    assert truth.final_qualifiers(heat, 8) == set(range(1, 9))


def test_a_rehearsal_keeps_the_weekdays_and_lies_ahead() -> None:
    source = (find_editions_dir() / "2024.toml").read_text(encoding="utf-8")
    today = dt.date(2026, 12, 2)
    moved = Edition.model_validate(tomllib.loads(rehearsal_text(source, today)))
    original = load_edition()
    assert moved.code == "rehearsal"
    assert moved.date.weekday() == original.date.weekday()
    assert (moved.date - today).days >= 21
    assert moved.date - moved.kit_issue.days[0] == original.date - original.kit_issue.days[0]
    scaled = Edition.model_validate(tomllib.loads(rehearsal_text(source, today, capacity=7000)))
    assert scaled.registration.capacity == 7000
    assert sum(d.slot_limit for d in scaled.distances) >= 7000


def test_the_field_fits_the_slot_limits_and_keeps_ages_in_categories() -> None:
    edition = load_edition()
    plan = plan_field(edition, 700, seed=1)
    assert len(plan.people) == 700
    for distance in edition.distances:
        assert sum(p.distance == distance.code for p in plan.people) <= distance.slot_limit
    for person in plan.people:
        age = (
            edition.date.year
            - person.birth_date.year
            - (
                (edition.date.month, edition.date.day)
                < (person.birth_date.month, person.birth_date.day)
            )
        )
        category = next(
            c
            for c in edition.distance(person.distance).categories(person.gender)
            if c.code == person.category
        )
        assert category.min_age <= age <= (category.max_age or 200)


def test_what_the_finish_device_sends_parses_back_to_the_truth() -> None:
    edition = load_edition()
    distance = edition.distance("1000m")
    runners = [
        Runner(bib, f"{900_000_000_000 + bib:012d}", None, 200_000_000 + bib * 997, "A", "B", None)
        for bib in range(1001, 1021)
    ]
    gun = dt.datetime(2024, 3, 17, 6, 0, 0, 123_456, tzinfo=dt.UTC)
    rng = random.Random(3)
    run = run_race(rng, distance, runners, gun, race_label=(1, 1, 1, "x"), time_zone=ALMATY)
    sent = [read for post, _ in device_posts(rng, run.finish_reads) for read in post]
    text = render_finish(run.finish_format, sent, ALMATY, 1)
    parsed = parse(run.finish_format, text, tz=ALMATY, day=edition.date.replace(2024, 3, 17))
    assert not parsed.rejected
    assert sorted((r.chip, r.at) for r in parsed.reads) == sorted((r.chip, r.at) for r in sent)
    by_chip = {r.chip: r.bib for r in runners}
    finishes = {}
    for read in sorted(parsed.reads, key=lambda r: r.at):
        outcome = run.outcomes[by_chip[read.chip]]
        if outcome.status != "DNF" and outcome.finish_us is not None:
            last = gun + dt.timedelta(microseconds=outcome.crossings_us[-1] - 400_000)
            if read.at >= last:
                finishes.setdefault(outcome.bib, read.at)
    for bib, at in finishes.items():
        assert run.outcomes[bib].finish_us == int((at - gun).total_seconds() * 1e6 + 0.5)
