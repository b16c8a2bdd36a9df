"""The simulation's own parts, without services: its truth, its field, its race model."""

from __future__ import annotations

import datetime as dt
import random
import tomllib
from zoneinfo import ZoneInfo

from copa.simulate import truth
from copa.simulate.field import plan_field, plan_relay, plan_teams
from copa.simulate.races import (
    Outcome,
    Read,
    RelayTeam,
    Runner,
    device_posts,
    local_day,
    render_finish,
    run_race,
    run_relay,
)
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


def test_a_team_scores_overall_places_and_the_penalty_for_a_non_finisher() -> None:
    men = {
        1: truth.Line(1, 1, "OK", 1),
        2: truth.Line(2, 2, "OK", 1),
        3: truth.Line(3, None, "DNS", None),
    }
    women = {4: truth.Line(4, 1, "OK", 1), 5: truth.Line(5, 2, "OK", 1)}
    overall = {("100m", "M"): men, ("100m", "F"): women}
    teams = {
        "A": [truth.TeamEntry(1, "100m", "M"), truth.TeamEntry(5, "100m", "F")],  # 1 + 2
        "B": [truth.TeamEntry(2, "100m", "M"), truth.TeamEntry(4, "100m", "F")],  # 2 + 1
        "C": [truth.TeamEntry(3, "100m", "M"), truth.TeamEntry(4, "100m", "F")],
    }
    table = truth.team_classification(teams, overall, penalty_extra=2)
    by_name = {line.team_name: line for line in table}
    # RULES §7: level on 3 points and on the last scorer's 2: A and B share first place.
    assert (by_name["A"].place, by_name["B"].place) == (1, 1)
    # A DNS scores everyone in those standings (3, the non-starter too) plus 2.
    assert by_name["C"].entries[0] == truth.ScoredEntry(3, None, 5, True)
    assert (by_name["C"].place, by_name["C"].points) == (3, 6)


def test_a_tie_on_points_goes_to_the_better_last_scorer() -> None:
    lines = {b: truth.Line(b, b, "OK", 1) for b in range(1, 7)}
    overall = {("1000m", "M"): lines}
    teams = {
        "worse last": [truth.TeamEntry(b, "1000m", "M") for b in (1, 5)],  # 6, last 5
        "better last": [truth.TeamEntry(b, "1000m", "M") for b in (2, 4)],  # 6, last 4
    }
    table = truth.team_classification(teams, overall, penalty_extra=2)
    assert [(t.team_name, t.place) for t in table] == [("better last", 1), ("worse last", 2)]


def test_relay_places_run_across_races_and_shared_places_share_the_prizes() -> None:
    first = [ok(5001, 280_000_000), ok(5002, 290_000_000), Outcome(5003, "DNF")]
    second = [ok(5004, 280_000_000), ok(5005, 300_000_000)]
    lines = truth.relay_standings([first, second], (200_000, 150_000, 100_000))
    assert [lines[b].place for b in (5001, 5004, 5002, 5005)] == [1, 1, 3, 4]
    # Places 1 and 2 are shared by two teams: 350,000 KZT between them.
    assert (lines[5001].prize_kzt, lines[5004].prize_kzt, lines[5002].prize_kzt) == (
        175_000,
        175_000,
        100_000,
    )
    assert (lines[5005].prize_kzt, lines[5003].place, lines[5003].status) == (0, None, "DNF")


def test_a_relay_crosses_the_line_on_legs_one_two_and_four_and_finishes_on_the_last() -> None:
    edition = load_edition()
    plans = plan_relay(edition, 6, seed=3)
    teams = [
        RelayTeam(5000 + p.number, tuple(f"C{p.number}-{leg}" for leg in range(1, 5)),
                  tuple(r.leg_us for r in p.runners))
        for p in plans
    ]  # fmt: skip
    gun = dt.datetime(2024, 3, 10, 9, 0, tzinfo=dt.UTC)
    run = run_relay(random.Random(5), edition.relay, teams, gun, dns_share=0, dnf_share=0)
    for team in teams:
        chips = {r.chip for r in run.finish_reads if run.chip_bib[r.chip] == team.bib}
        legs = {int(chip.rsplit("-", 1)[1]) for chip in chips}
        assert legs <= {1, 2, 4}  # leg 3 runs from 1,200 to 1,400 m
        assert 4 in legs
        outcome = run.outcomes[team.bib]
        last_leg = [r.at for r in run.finish_reads if r.chip == team.chips[3]]
        assert outcome.finish_us == int((min(last_leg) - gun).total_seconds() * 1_000_000)
        assert outcome.finish_us >= edition.relay.min_finish_time_us
        assert len(outcome.crossings_us) == 4
        assert outcome.crossings_us == sorted(outcome.crossings_us)


def test_team_applications_hold_five_men_and_five_women_once_each() -> None:
    edition = load_edition()
    people = plan_field(edition, 300, seed=11).people
    participants = [(p, 100 + n) for n, p in enumerate(people) if p.enters]
    plans = plan_teams(edition, participants, seed=11)
    assert {p.classification for p in plans} == {"sprint", "medium"}
    for code in ("sprint", "medium"):
        bibs = [e.bib for p in plans if p.classification == code for e in p.entries]
        assert len(bibs) == len(set(bibs))  # one team per classification (reg 4.2.4)
    distances = {c.code: c.distances for c in edition.teams.classifications}
    for plan in plans:
        genders = [e.gender for e in plan.entries]
        assert (genders.count("M"), genders.count("F")) == (5, 5)
        assert all(e.distance in distances[plan.classification] for e in plan.entries)


def test_a_large_field_has_a_company_batch_and_free_slots() -> None:
    edition = load_edition()
    people = plan_field(edition, 700, seed=2024).people
    corporate = [p for p in people if p.channel == "corporate"]
    assert len(corporate) == edition.registration.corporate_min_participants  # reg 7.2
    assert all(p.qualifying_time_us is None and p.behaviour == "pays" for p in corporate)
    free = [p for p in people if p.channel == "free_slot"]
    assert 1 <= len(free) <= edition.registration.free_slots  # reg 7.13
    small = plan_field(edition, 40, seed=2024).people
    assert not any(p.channel == "corporate" for p in small)  # fewer than 2 x 31 applicants


def test_a_post_never_spans_local_midnight() -> None:
    # A programme past midnight: the formats with a time of day are posted with their day.
    midnight = dt.datetime(2024, 3, 11, 0, 0, tzinfo=ALMATY).astimezone(dt.UTC)
    reads = [
        Read("C1", midnight + dt.timedelta(milliseconds=offset), "finish", 1)
        for offset in (-300, -100, 200, 400)
    ]
    posts = device_posts(random.Random(1), reads, resend_share=0.0, zone=ALMATY)
    days = [{local_day(r, ALMATY) for r in post} for post, _ in posts]
    assert days == [{dt.date(2024, 3, 10)}, {dt.date(2024, 3, 11)}]
    # In UTC the same reads are one post of one day.
    assert len(device_posts(random.Random(1), reads, resend_share=0.0)) == 1


def test_a_large_field_never_draws_the_same_person_twice() -> None:
    edition = Edition.model_validate(
        tomllib.loads(
            rehearsal_text(
                (find_editions_dir() / "2024.toml").read_text(encoding="utf-8"),
                dt.date(2026, 12, 3),
                capacity=20_000,
            )
        )
    )
    people = plan_field(edition, 20_000, seed=2024).people
    keys = {(p.first_name, p.last_name, p.birth_date) for p in people}
    assert len(keys) == len(people)  # reg 7.3 would refuse a second entry
