"""Race groups: (distance, gender, age category) from the edition's config (RULES §2)."""

from __future__ import annotations

import datetime as dt

import pytest

from copa_contracts.edition import AgeCategory, load_edition
from copa_ranking.engine import (
    NoCategoryError,
    RaceGroup,
    category_among,
    category_for,
    full_age,
    race_group,
)

EDITION = load_edition()
SPRINT = EDITION.distance("100m")


def test_age_is_the_exact_full_age_on_the_competition_day() -> None:
    assert full_age(dt.date(1989, 3, 17), EDITION.date) == 35
    assert full_age(dt.date(1989, 3, 18), EDITION.date) == 34


def test_a_leap_day_birthday_counts_from_the_first_of_march() -> None:
    assert full_age(dt.date(2004, 2, 29), dt.date(2022, 2, 28)) == 17
    assert full_age(dt.date(2004, 2, 29), dt.date(2022, 3, 1)) == 18


def test_a_thirty_four_year_old_runs_in_18_34_and_a_thirty_five_year_old_in_35_44() -> None:
    assert race_group(SPRINT, "F", 34) == RaceGroup("100m", "F", "18-34")
    assert race_group(SPRINT, "F", 35) == RaceGroup("100m", "F", "35-44")


def test_the_oldest_category_is_open_ended() -> None:
    assert category_for(SPRINT, "M", 91).code == "55+"


def test_nobody_under_the_youngest_category_has_a_group() -> None:
    with pytest.raises(NoCategoryError):
        category_for(SPRINT, "M", 17)


def test_categories_given_by_hand_apply_within_each_gender() -> None:
    bands = [
        AgeCategory(gender="F", code="18-39", min_age=18, max_age=39),
        AgeCategory(gender="M", code="18-39", min_age=18, max_age=39),
        AgeCategory(gender="M", code="40+", min_age=40),
    ]
    assert category_among(bands, "M", 40).code == "40+"
    assert category_among(bands, "F", 39).gender == "F"
    with pytest.raises(NoCategoryError):
        category_among(bands, "F", 40)  # the 40+ band is the men's only
