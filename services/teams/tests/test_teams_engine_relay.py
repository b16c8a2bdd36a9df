"""The relay's standings across races and its prize list (RULES §8)."""

from __future__ import annotations

import uuid

from hypothesis import given, settings
from hypothesis import strategies as st

from copa_contracts.edition import Edition
from copa_teams.engine import RelayLine, RelayRace, RelayTeam, relay_table

FUND = Edition().relay.prize_fund_kzt
S = 1_000_000


def team(bib: int, name: str | None = None) -> RelayTeam:
    return RelayTeam(uuid.uuid4(), bib, name or f"Team {bib}")


def line(t: RelayTeam, status: str = "OK", gun_us: int | None = None) -> RelayLine:
    official = None if gun_us is None else -(-gun_us // 10_000) * 10_000
    return RelayLine(t.relay_team_id, t.bib, status, gun_us, official)  # type: ignore[arg-type]


def test_prize_fund_of_the_edition_is_the_news_report_split() -> None:
    assert FUND == (200_000, 150_000, 100_000)


def test_places_across_races_by_time_and_prizes_for_the_first_three() -> None:
    a, b, c, d, e = (team(5001 + i) for i in range(5))
    race_1 = RelayRace(uuid.uuid4(), True, (line(a, gun_us=250 * S), line(b, gun_us=262 * S)))
    race_2 = RelayRace(
        uuid.uuid4(), True, (line(c, gun_us=255 * S), line(d, "DQ"), line(e, gun_us=300 * S))
    )
    table = relay_table([race_2, race_1], [a, b, c, d, e], FUND)
    assert table is not None
    assert table.status == "official"
    assert [(p.bib, p.place, p.prize_kzt) for p in table.standings] == [
        (5001, 1, 200_000),
        (5003, 2, 150_000),
        (5002, 3, 100_000),
        (5005, 4, 0),
        (5004, None, 0),
    ]
    assert table.standings[0].team_name == "Team 5001"


def test_equal_raw_times_share_a_place_and_the_prizes_of_the_places_they_hold() -> None:
    a, b, c = team(5001), team(5002), team(5003)
    race = RelayRace(
        uuid.uuid4(),
        True,
        (line(a, gun_us=250 * S), line(b, gun_us=251 * S), line(c, gun_us=251 * S)),
    )
    table = relay_table([race], [a, b, c], FUND)
    assert table is not None
    assert [(p.place, p.prize_kzt) for p in table.standings] == [
        (1, 200_000),
        (2, 125_000),
        (2, 125_000),
    ]


def test_provisional_until_every_relay_race_is_official_and_absent_teams_are_dns_then() -> None:
    a, b = team(5001), team(5002)
    done = RelayRace(uuid.uuid4(), True, (line(a, gun_us=250 * S),))
    pending = RelayRace(uuid.uuid4(), False, None)  # a start list, no results yet
    provisional = relay_table([done, pending], [a, b], FUND)
    assert provisional is not None
    assert provisional.status == "provisional"
    assert [p.bib for p in provisional.standings] == [5001]
    finished = relay_table([done], [a, b], FUND)
    assert finished is not None
    assert [(p.bib, p.status, p.place) for p in finished.standings] == [
        (5001, "OK", 1),
        (5002, "DNS", None),
    ]


def test_no_table_before_any_relay_result() -> None:
    assert relay_table([RelayRace(uuid.uuid4(), False, None)], [team(5001)], FUND) is None


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["OK", "OK", "OK", "DNF", "DQ"]), st.integers(0, 5)),
        min_size=1,
        max_size=12,
    )
)
def test_the_prize_money_paid_is_the_fund_of_the_places_finishers_hold(
    entries: list[tuple[str, int]],
) -> None:
    teams = [team(5001 + i) for i in range(len(entries))]
    race = RelayRace(
        uuid.uuid4(),
        True,
        tuple(
            line(t, status, (250 + offset) * S if status == "OK" else None)
            for t, (status, offset) in zip(teams, entries, strict=True)
        ),
    )
    table = relay_table([race], teams, FUND)
    assert table is not None
    paid = sum(p.prize_kzt for p in table.standings)
    finishers = sum(1 for status, _ in entries if status == "OK")
    assert paid == sum(FUND[: min(finishers, 3)])  # shared places share, never add
    assert all(p.prize_kzt == 0 for p in table.standings if p.place is None)
    prizes = [p.prize_kzt for p in table.standings]
    assert prizes == sorted(prizes, reverse=True)  # a better place never earns less
    for place in {p.place for p in table.standings if p.place is not None}:
        shared = [p.prize_kzt for p in table.standings if p.place == place]
        assert max(shared) - min(shared) <= 1  # a shared place splits evenly, to the tenge
