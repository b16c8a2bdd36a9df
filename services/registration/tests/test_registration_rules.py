"""The rules of entry as pure functions of the edition config (no database, no HTTP)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from copa_contracts.edition import load_edition
from copa_registration import rules
from copa_registration.rules import QualifyingResult, Refusal

EDITION = load_edition("2024")
D100, D1000, D3000 = (EDITION.distance(c) for c in ("100m", "1000m", "3000m"))
UTC = dt.UTC


def test_exact_age_counts_birthdays_on_the_competition_date():
    day = dt.date(2024, 3, 17)
    assert rules.exact_age(dt.date(2006, 3, 17), day) == 18
    assert rules.exact_age(dt.date(2006, 3, 18), day) == 17
    assert rules.exact_age(dt.date(2004, 2, 29), dt.date(2023, 2, 28)) == 18
    assert rules.exact_age(dt.date(2004, 2, 29), dt.date(2023, 3, 1)) == 19


@given(st.dates(min_value=dt.date(1930, 1, 1), max_value=dt.date(2006, 3, 17)))
def test_every_adult_has_exactly_one_category_per_gender(birth):
    for gender in ("M", "F"):
        category = rules.age_category(EDITION, D100, gender, birth, EDITION.date)
        age = rules.exact_age(birth, EDITION.date)
        assert category.admits(age)
        assert sum(c.admits(age) for c in D100.categories(gender)) == 1


def test_under_18_is_refused_with_clause_5_1():
    with pytest.raises(Refusal) as refused:
        rules.age_category(EDITION, D100, "F", dt.date(2006, 3, 18), EDITION.date)
    assert (refused.value.reason, refused.value.clause) == ("under_minimum_age", "5.1")


def test_window_is_inclusive_in_almaty_time():
    rules.check_window(EDITION, dt.datetime(2024, 1, 14, 18, 0, tzinfo=UTC))  # 00:00 UTC+6
    rules.check_window(EDITION, dt.datetime(2024, 3, 3, 18, 59, 59, 500_000, tzinfo=UTC))
    for instant in (
        dt.datetime(2024, 1, 14, 17, 59, 59, tzinfo=UTC),
        dt.datetime(2024, 3, 3, 19, 0, 0, tzinfo=UTC),  # 2024-03-04 00:00 at UTC+5
    ):
        with pytest.raises(Refusal) as refused:
            rules.check_window(EDITION, instant)
        assert refused.value.clause == "7.1"


def _result(minutes: int, seconds: int, day: dt.date, metres: int = 3000) -> QualifyingResult:
    return QualifyingResult(metres, (minutes * 60 + seconds) * 1_000_000, day, "x", "https://x")


@pytest.mark.parametrize(
    ("gender", "born", "result", "ok"),
    [
        ("M", dt.date(1990, 1, 1), _result(13, 0, dt.date(2023, 5, 1)), True),  # 18-34: 13:00
        ("M", dt.date(1990, 1, 1), _result(13, 1, dt.date(2023, 5, 1)), False),
        ("F", dt.date(1960, 1, 1), _result(19, 0, dt.date(2023, 5, 1)), True),  # 55+: 19:00
        ("M", dt.date(1985, 1, 1), _result(13, 29, dt.date(2023, 5, 1)), True),  # 35-44: 13:30
        ("M", dt.date(1990, 1, 1), _result(12, 0, dt.date(2021, 1, 31)), False),  # > 3 years
        ("M", dt.date(1990, 1, 1), _result(12, 0, dt.date(2021, 2, 1)), True),  # 3 years exactly
        ("M", dt.date(1990, 1, 1), _result(9, 0, dt.date(2023, 5, 1), metres=2000), False),
    ],
)
def test_qualifying_time_of_the_category_and_three_years(gender, born, result, ok):
    category = rules.age_category(EDITION, D3000, gender, born, EDITION.date)
    applied = dt.date(2024, 2, 1)
    if ok:
        rules.check_qualification(EDITION, category, result, applied, D3000)
    else:
        with pytest.raises(Refusal) as refused:
            rules.check_qualification(EDITION, category, result, applied, D3000)
        assert refused.value.clause == "4.2.3"


def test_no_qualification_needed_for_100m_and_1000m():
    category = rules.age_category(EDITION, D1000, "M", dt.date(1990, 1, 1), EDITION.date)
    rules.check_qualification(EDITION, category, None, dt.date(2024, 2, 1), D1000)


def test_distance_change_fee_rules_of_7_6():
    assert rules.distance_change_fee(EDITION, D100, D1000) == (1000, 2000)
    assert rules.distance_change_fee(EDITION, D3000, D100) == (1000, 0)  # nothing back


def test_person_key_ignores_case_spaces_and_yo():
    a = rules.person_key("Алёна", "Иванова ", dt.date(1990, 1, 1))
    assert a == rules.person_key("алена", "ИВАНОВА", dt.date(1990, 1, 1))
    assert a != rules.person_key("Алёна", "Иванова", dt.date(1990, 1, 2))


def test_ban_covers_the_next_three_editions():
    assert rules.banned_editions("2024", 3) == {"2025", "2026", "2027"}
    assert rules.leg_bib(5001, 4) == "5001-4"
