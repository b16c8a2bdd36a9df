"""Times: integer microseconds, rounding up to 1/100 s, gun vs net, sources (RULES §6)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from copa_contracts.edition import load_edition
from copa_ranking.engine import (
    ChipFinish,
    EngineError,
    ManualTime,
    PhotoFinish,
    PhotoPlacing,
    Ruling,
    duration_form,
    format_duration,
    from_instant_us,
    instant_us,
    official_time_us,
    parse_duration_us,
    resolve_performances,
    tie_key_us,
)

RESULTS = load_edition().results


def t(text: str) -> int:
    return parse_duration_us(text)


def chip_finish(bib: int, gun: str, start_offset: str | None = None) -> ChipFinish:
    offset = None if start_offset is None else t(start_offset)
    return ChipFinish(bib, f"chip-{bib}", 0, t(gun), offset, 1)


def test_ten_point_zero_zero_one_rounds_up_to_ten_point_zero_one() -> None:
    assert official_time_us(t("10.001"), RESULTS) == t("10.01")


def test_ten_point_zero_zero_zero_stays_ten_point_zero_zero() -> None:
    assert official_time_us(t("10.000"), RESULTS) == t("10.00")


def test_a_microsecond_over_the_hundredth_is_the_next_hundredth() -> None:
    assert official_time_us(t("10.010001"), RESULTS) == t("10.02")


def test_ties_are_compared_at_the_thousandth_rounded_up() -> None:
    assert tie_key_us(t("10.0031"), RESULTS) == tie_key_us(t("10.0034"), RESULTS) == t("10.004")
    assert tie_key_us(t("10.004"), RESULTS) != tie_key_us(t("10.0041"), RESULTS)


@given(st.integers(min_value=0, max_value=10**12))
def test_official_time_is_the_smallest_hundredth_not_below_the_raw_time(raw_us: int) -> None:
    official = official_time_us(raw_us, RESULTS)
    resolution = RESULTS.official_time_resolution_us
    assert official % resolution == 0
    assert raw_us <= official < raw_us + resolution


def test_instants_are_integer_microseconds_in_utc() -> None:
    almaty = dt.timezone(dt.timedelta(hours=5))
    moment = dt.datetime(2024, 3, 17, 8, 30, 0, 123456, tzinfo=almaty)
    value = instant_us(moment)
    assert isinstance(value, int)
    assert value % 1_000_000 == 123456
    assert from_instant_us(value) == moment


def test_a_naive_instant_is_refused() -> None:
    with pytest.raises(EngineError):
        instant_us(dt.datetime(2024, 3, 17, 8, 30))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10.001", 10_001_000),
        ("10", 10_000_000),
        ("3:05.27", 185_270_000),
        ("1:02:03.000001", 3_723_000_001),
        ("0.000001", 1),
    ],
)
def test_durations_parse_exactly_without_floats(text: str, expected: int) -> None:
    assert parse_duration_us(text) == expected


def test_durations_format_for_display() -> None:
    assert format_duration(t("10.01")) == "10.01"
    assert format_duration(t("3:05.27")) == "3:05.27"
    assert format_duration(t("1:02:03.5"), 6) == "1:02:03.500000"


def test_a_column_of_times_shows_every_time_in_the_form_of_its_longest() -> None:
    times = [t("59.991"), t("1:00.00"), t("9.87")]
    form = duration_form(max(times))
    assert form == "m:ss"
    assert [format_duration(official_time_us(x, RESULTS), 2, form) for x in times] == [
        "1:00.00",
        "1:00.00",
        "0:09.87",
    ]
    assert format_duration(t("9.87"), 2, "h:mm:ss") == "0:00:09.87"
    assert format_duration(t("1:02:03.5"), 2, "s") == "1:02:03.50"  # never fewer fields


@given(st.integers(0, 10**11), st.sampled_from(["s", "m:ss", "h:mm:ss"]))
def test_a_formatted_time_parses_back_to_itself(raw_us: int, form: str) -> None:
    shown = official_time_us(raw_us, RESULTS)
    assert parse_duration_us(format_duration(shown, 2, form)) == shown  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["", "abc", "1:75.00", "10.1234567"])
def test_what_is_not_a_duration_is_refused(text: str) -> None:
    with pytest.raises(EngineError):
        parse_duration_us(text)


def test_chip_time_is_the_time_when_nothing_better_exists() -> None:
    resolution = resolve_performances("r1", [7], chip={7: chip_finish(7, "12.345")})
    (performance,) = resolution.performances
    assert (performance.gun_time_us, performance.source) == (t("12.345"), "chip")


def test_photo_finish_time_beats_the_chip_time() -> None:
    photo = PhotoFinish((PhotoPlacing(7, 1, t("12.301")),), "heat1.lif")
    resolution = resolve_performances("r1", [7], chip={7: chip_finish(7, "12.345")}, photo=photo)
    (performance,) = resolution.performances
    assert (performance.gun_time_us, performance.source) == (t("12.301"), "photo_finish")
    assert performance.order_source == "photo_finish"


def test_a_judges_manual_time_beats_photo_finish_and_chip_and_keeps_its_reason() -> None:
    photo = PhotoFinish((PhotoPlacing(7, 1, t("12.301")),))
    manual = ManualTime(7, t("12.40"), reason="camera missed the torso, hand timing")
    resolution = resolve_performances(
        "r1", [7], chip={7: chip_finish(7, "12.345")}, photo=photo, manual_times=[manual]
    )
    (performance,) = resolution.performances
    assert (performance.gun_time_us, performance.source) == (t("12.40"), "manual")
    assert performance.reason == "camera missed the torso, hand timing"
    assert performance.order_rank is None  # the judge's time places the runner


def test_a_manual_time_without_a_reason_is_refused() -> None:
    with pytest.raises(EngineError):
        ManualTime(7, t("12.40"), reason="  ")


def test_gun_time_is_official_and_net_time_counts_from_the_runners_own_start_crossing() -> None:
    resolution = resolve_performances(
        "r1", [7], chip={7: chip_finish(7, "3:10.000", start_offset="2.5")}
    )
    (performance,) = resolution.performances
    assert performance.gun_time_us == t("3:10")
    assert performance.net_time_us == t("3:07.5")


def test_net_time_follows_a_better_gun_time_source() -> None:
    photo = PhotoFinish((PhotoPlacing(7, 1, t("3:09.900")),))
    resolution = resolve_performances(
        "r1", [7], chip={7: chip_finish(7, "3:10.000", start_offset="2.5")}, photo=photo
    )
    assert resolution.performances[0].net_time_us == t("3:07.4")


def test_a_judges_dq_beats_any_time() -> None:
    ruling = Ruling(7, "DQ", "7.12", "headphones")
    resolution = resolve_performances(
        "r1", [7], chip={7: chip_finish(7, "12.345")}, rulings=[ruling]
    )
    (performance,) = resolution.performances
    assert (performance.status, performance.dq_rule, performance.gun_time_us) == (
        "DQ",
        "7.12",
        None,
    )


def test_a_dq_without_its_rule_is_refused() -> None:
    with pytest.raises(EngineError):
        Ruling(7, "DQ")


def test_a_photo_finish_line_for_a_bib_not_in_the_race_goes_to_the_judges() -> None:
    photo = PhotoFinish((PhotoPlacing(99, 1, t("12.0")),), "heat1.lif")
    resolution = resolve_performances("r1", [7], chip={7: chip_finish(7, "12.5")}, photo=photo)
    (exception,) = resolution.exceptions
    assert (exception.kind, exception.bib, exception.race_id) == (
        "photo_finish_unmatched",
        99,
        "r1",
    )


def test_a_runner_without_time_waits_and_goes_to_the_judges_once_the_race_is_over() -> None:
    running = resolve_performances("r1", [7, 8], chip={7: chip_finish(7, "12.5")})
    assert [p.status for p in running.performances] == ["OK", None]
    assert running.exceptions == ()
    over = resolve_performances("r1", [7, 8], chip={7: chip_finish(7, "12.5")}, race_over=True)
    assert [(e.kind, e.bib) for e in over.exceptions] == [("no_finish_time", 8)]
