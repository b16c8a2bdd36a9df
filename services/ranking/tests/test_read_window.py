"""A race's read window holds every runner the rules admit (issue 8: found by a simulation)."""

from __future__ import annotations

from copa_ranking.race_day import edition, slot_us


def test_a_qualified_3000m_runner_slower_than_the_slot_is_still_timed() -> None:
    # 2024: an 18 min programme slot, but women 55+ qualify with 19:00 (reg 4.2.3); a finish
    # at 21:00 must still be inside the race's window, not taken for a cool-down lap.
    distance = edition().distance("3000m")
    assert distance.race_slot_minutes * 60_000_000 < 21 * 60_000_000
    assert slot_us("3000m") >= 21 * 60_000_000


def test_distances_without_qualifying_times_read_for_their_slot() -> None:
    assert slot_us("100m") == edition().distance("100m").race_slot_minutes * 60_000_000
    assert slot_us("relay") == edition().relay.race_slot_minutes * 60_000_000
