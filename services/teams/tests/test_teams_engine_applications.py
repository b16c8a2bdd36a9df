"""Checking team applications against the participants (reg 4.2.4, RULES §7)."""

from __future__ import annotations

import datetime as dt
import uuid

from copa_contracts.edition import Edition
from copa_teams.engine import (
    ClassificationRules,
    EntryDeclaration,
    Participant,
    check_application,
    name_tokens,
)

EDITION = Edition()
SPRINT = ClassificationRules.of(EDITION, "sprint")
MEDIUM = ClassificationRules.of(EDITION, "medium")
BEFORE_DEADLINE = dt.datetime(2024, 3, 2, 18, 0, tzinfo=dt.UTC)  # 23:00 in Almaty


def runner(
    bib: int,
    gender: str,
    distance: str = "100m",
    name: str | None = None,
    person: str | None = None,
) -> Participant:
    full_name = name or f"Runner {bib}"
    return Participant(uuid.uuid4(), bib, distance, gender, full_name, person or f"person-{bib}")  # type: ignore[arg-type]


def declare(p: Participant, **changes: object) -> EntryDeclaration:
    values: dict[str, object] = {"full_name": p.full_name, "bib": p.bib, "distance": p.distance}
    values.update(changes)
    return EntryDeclaration(**values)  # type: ignore[arg-type]


def sprint_squad(start: int = 1) -> list[Participant]:
    return [runner(start + i, "M" if i < 5 else "F") for i in range(10)]


def by_bib(*groups: list[Participant]) -> dict[int, Participant]:
    return {p.bib: p for group in groups for p in group}


def test_five_men_and_five_women_make_a_complete_team() -> None:
    squad = sprint_squad()
    verdict = check_application(
        SPRINT, [declare(p) for p in squad], by_bib(squad), {}, now=BEFORE_DEADLINE
    )
    assert verdict.state == "complete"
    assert verdict.findings == ()
    assert verdict.members == tuple(squad)


def test_deadline_is_before_the_third_of_march_local_time() -> None:
    # reg 4.2.4 "before 03 March 2024": until 2024-03-02 23:59:59 in Almaty (UTC+5).
    assert SPRINT.applications_until == dt.datetime(2024, 3, 2, 18, 59, 59, tzinfo=dt.UTC)
    squad = sprint_squad()
    late = dt.datetime(2024, 3, 2, 19, 0, 0, tzinfo=dt.UTC)  # 00:00 on 3 March in Almaty
    verdict = check_application(SPRINT, [declare(p) for p in squad], by_bib(squad), {}, now=late)
    assert verdict.state == "refused"
    assert [f.code for f in verdict.refusals] == ["deadline_passed"]


def test_every_refusal_names_its_entry_and_why() -> None:
    squad = sprint_squad()
    stranger = runner(900, "M", "1000m")
    entries = [declare(p) for p in squad]
    entries[0] = declare(squad[0], full_name="Somebody Else")
    entries[1] = declare(squad[1], distance="1000m")
    entries[2] = EntryDeclaration("Ghost Runner", 777, "100m")
    entries[3] = declare(squad[3], gender="F")
    entries[4] = declare(stranger)
    verdict = check_application(SPRINT, entries, by_bib(squad, [stranger]), {}, now=BEFORE_DEADLINE)
    found = {(f.entry, f.bib, f.code) for f in verdict.refusals}
    assert found == {
        (1, 1, "name_mismatch"),
        (2, 2, "distance_not_in_classification"),
        (2, 2, "distance_mismatch"),
        (3, 777, "unknown_bib"),
        (4, 4, "gender_mismatch"),
        (5, 900, "distance_not_in_classification"),
    }
    assert verdict.state == "refused"
    assert all(f.reason for f in verdict.refusals)


def test_name_matches_whatever_the_order_case_and_spacing() -> None:
    assert name_tokens("Aigerim  NURLANOVNA") == name_tokens("nurlanovna aigerim")
    assert name_tokens("Пётр Иванов") == name_tokens("иванов петр")
    assert name_tokens("Anna Smith") != name_tokens("Anna Smyth")


def test_a_sixth_mans_result_is_refused_and_named() -> None:
    squad = sprint_squad()
    sixth = runner(50, "M")
    entries = [declare(p) for p in [*squad[:5], sixth, *squad[5:]]]
    verdict = check_application(SPRINT, entries, by_bib(squad, [sixth]), {}, now=BEFORE_DEADLINE)
    assert [(f.entry, f.bib, f.code) for f in verdict.refusals] == [(6, 50, "too_many_results")]
    assert "6th men's result" in verdict.refusals[0].reason


def test_fewer_than_five_of_a_gender_is_stored_as_incomplete() -> None:
    squad = sprint_squad()[:9]
    verdict = check_application(
        SPRINT, [declare(p) for p in squad], by_bib(squad), {}, now=BEFORE_DEADLINE
    )
    assert verdict.state == "incomplete"
    assert [(f.code, f.entry, f.blocking) for f in verdict.findings] == [
        ("too_few_results", None, False)
    ]
    assert "4 women's results of the 5" in verdict.findings[0].reason


def test_one_person_may_hold_results_in_both_medium_distances() -> None:
    # reg 4.2.4: "each member may participate in several distances, but in total there must be
    # 5 male and 5 female results": ten results, here from seven people.
    men_1000 = [runner(1001 + i, "M", "1000m", person=f"m{i}") for i in range(3)]
    men_3000 = [
        runner(3001 + i, "M", "3000m", name=f"Runner {1001 + i}", person=f"m{i}") for i in range(2)
    ]
    women_1000 = [runner(1101 + i, "F", "1000m", person=f"w{i}") for i in range(4)]
    women_3000 = [runner(3101, "F", "3000m", name="Runner 1101", person="w0")]
    team = men_1000 + men_3000 + women_1000 + women_3000
    verdict = check_application(
        MEDIUM, [declare(p) for p in team], by_bib(team), {}, now=BEFORE_DEADLINE
    )
    assert verdict.state == "complete"
    assert len({p.person_key for p in team}) == 7


def test_a_person_runs_for_one_team_per_classification() -> None:
    squad = sprint_squad()
    verdict = check_application(
        SPRINT,
        [declare(p) for p in squad],
        by_bib(squad),
        {squad[7].person_key: "Qulpynay Bakery"},
        now=BEFORE_DEADLINE,
    )
    assert [(f.entry, f.code) for f in verdict.refusals] == [(8, "in_another_team")]
    assert "Qulpynay Bakery" in verdict.refusals[0].reason


def test_the_same_bib_twice_is_refused() -> None:
    squad = sprint_squad()
    entries = [declare(p) for p in squad] + [declare(squad[0])]
    verdict = check_application(SPRINT, entries, by_bib(squad), {}, now=BEFORE_DEADLINE)
    assert [(f.entry, f.code) for f in verdict.refusals] == [(11, "duplicate_bib")]


def test_a_stored_application_is_rechecked_without_the_deadline() -> None:
    squad = sprint_squad()
    verdict = check_application(SPRINT, [declare(p) for p in squad], by_bib(squad), {}, now=None)
    assert verdict.state == "complete"
