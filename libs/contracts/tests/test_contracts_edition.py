"""The edition config: `editions/2024.toml` and the code's defaults are the same edition."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from copa_contracts.edition import (
    EDITIONS_DIR_ENV,
    LANE_DRAW_BEFORE_2023,
    Edition,
    find_editions_dir,
    load_edition,
)

REPO_EDITIONS = Path(__file__).resolve().parents[3] / "editions"


def _edition_data() -> dict[str, Any]:
    with (REPO_EDITIONS / "2024.toml").open("rb") as file:
        return tomllib.load(file)


def test_the_2024_file_equals_the_defaults() -> None:
    assert load_edition("2024", REPO_EDITIONS) == Edition()


def test_the_2024_file_writes_out_every_value() -> None:
    # Fields with no default in the schema must be in the file; fields with a default are
    # written too, so a reader of the file sees the whole edition (absent = "not applicable").
    data = _edition_data()
    assert set(data) == set(Edition.model_fields)
    for section in (
        "venue",
        "registration",
        "kit_issue",
        "relay",
        "lanes",
        "schedule",
        "teams",
        "results",
        "protests",
    ):
        model = type(getattr(Edition(), section))
        assert set(data[section]) == set(model.model_fields), section


def test_rules_values_are_in_the_defaults() -> None:
    edition = Edition()
    assert edition.registration.capacity == 700
    assert [d.fee_kzt for d in edition.distances] == [5_000, 7_000, 9_000]
    assert [d.finish_crossings for d in edition.distances] == [1, 3, 8]
    men_3000 = {c.code: c.qualifying_time_us for c in edition.distance("3000m").categories("M")}
    assert men_3000["18-34"] == 13 * 60 * 1_000_000
    assert edition.relay.length_m == 1500
    assert edition.lanes.final_draw == ((3, 4, 5, 6), (2, 7), (1, 8))


def test_load_finds_the_folder_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "2024.toml").write_bytes((REPO_EDITIONS / "2024.toml").read_bytes())
    monkeypatch.setenv(EDITIONS_DIR_ENV, str(tmp_path))
    assert find_editions_dir() == tmp_path
    assert load_edition() == Edition()


def test_load_finds_the_repository_folder_without_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(EDITIONS_DIR_ENV, raising=False)
    monkeypatch.chdir(tmp_path)  # nothing above tmp_path: found from the package's own location
    assert find_editions_dir() == REPO_EDITIONS


def test_a_file_must_declare_its_own_code(tmp_path: Path) -> None:
    (tmp_path / "2025.toml").write_bytes((REPO_EDITIONS / "2024.toml").read_bytes())
    with pytest.raises(ValueError, match="code"):
        load_edition("2025", tmp_path)


def test_local_times_become_utc_with_the_2024_offset_change() -> None:
    edition = Edition()
    # Kazakhstan moved from UTC+6 to UTC+5 on 2024-03-01 (RULES §1).
    assert edition.to_utc(datetime(2024, 2, 20, 8, 30)) == datetime(2024, 2, 20, 2, 30, tzinfo=UTC)
    assert edition.to_utc(datetime(2024, 3, 17, 8, 30)) == datetime(2024, 3, 17, 3, 30, tzinfo=UTC)
    with pytest.raises(ValueError, match="naive"):
        edition.to_utc(datetime(2024, 3, 17, 8, 30, tzinfo=UTC))


@pytest.mark.parametrize("zone", ["+05:00", "UTC+5", "UTC", "Etc/GMT-5", "Asia/Nowhere", ""])
def test_a_time_zone_without_a_named_zone_is_refused(zone: str) -> None:
    with pytest.raises(ValidationError, match=r"time_zone|time zone"):
        Edition(time_zone=zone)


def _with(section: str, **changes: Any) -> dict[str, Any]:
    data = _edition_data()
    data[section] = {**data[section], **changes}
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_with("registration", capacity=0), "capacity"),
        (_with("registration", hold_minutes=-5), "hold_minutes"),
        (_with("registration", opens_at_local=datetime(2024, 3, 4)), "open before"),
        (_with("kit_issue", opens_at="21:00:00"), "kit issue"),
        (_with("lanes", final_draw=[[3, 4, 5, 6], [2, 7], [1, 1]]), "final_draw"),
        (_with("lanes", count=6, final_draw=[[3, 4], [2, 5], [1, 6]]), "lanes"),
        (_with("relay", bibs={"first": 3900, "last": 4100}), "overlap"),
        (_with("schedule", distance_order=["100m", "1000m", "3000m"]), "distance_order"),
        (_with("schedule", gender_order=["M", "M"]), "gender_order"),
        (_with("results", read_cluster_us=1.5), "read_cluster_us"),
        ({**_edition_data(), "starts_at": "18:00:00"}, "start before"),
        ({**_edition_data(), "currency": "USD"}, "currency"),
        ({**_edition_data(), "date": "2024-03-02"}, "after the competition"),
        ({**_edition_data(), "minimum_age": 21}, "under 21"),
        ({**_edition_data(), "unknown_setting": 1}, "unknown_setting"),
    ],
)
def test_bad_values_are_refused(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Edition.model_validate(data)


def _distance_changed(index: int, **changes: Any) -> dict[str, Any]:
    data = _edition_data()
    distances = [dict(d) for d in data["distances"]]
    distances[index] = {**distances[index], **changes}
    return {**data, "distances": distances}


def test_3000m_categories_need_qualifying_times() -> None:
    categories = [dict(c) for c in _edition_data()["distances"][2]["age_categories"]]
    del categories[0]["qualifying_time_us"]
    with pytest.raises(ValidationError, match="qualifying time"):
        Edition.model_validate(_distance_changed(2, age_categories=categories))


def test_categories_of_one_gender_may_not_overlap() -> None:
    categories = [dict(c) for c in _edition_data()["distances"][0]["age_categories"]]
    categories[0]["max_age"] = 40
    with pytest.raises(ValidationError, match="overlap"):
        Edition.model_validate(_distance_changed(0, age_categories=categories))


def test_slot_limit_fits_the_bib_range() -> None:
    with pytest.raises(ValidationError, match="slot_limit"):
        Edition.model_validate(_distance_changed(0, slot_limit=1000))


def test_the_older_lane_table_is_an_option() -> None:
    edition = Edition.model_validate(_with("lanes", final_draw=LANE_DRAW_BEFORE_2023))
    assert edition.lanes.final_draw == ((3, 4, 5, 6), (7, 8), (1, 2))


def test_the_edition_is_frozen() -> None:
    with pytest.raises(ValidationError):
        Edition().registration.capacity = 800
