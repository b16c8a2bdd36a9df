"""The medley relay (RULES §8; news report of the fourth edition).

Teams of four run legs of 800, 400, 200 and 100 m (config ``legs_m``). The relay runs like any
other event: races of at most ``race_max`` teams (8), one round, a timed final with places by
time across the races. A team's result is the gun time at the finish-line crossing of its
last-leg runner: with the 1,500 m start at the 100 m mark only legs 1, 2 and 4 cross the finish
line, and only the last leg's crossing after the minimum plausible time is the finish. The
other legs' chips are known and give splits where the venue lays timing points; they are never
exceptions. A breach by any one member disqualifies the team (WA TR 24).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Final

from copa_contracts.edition import RaceDivision, RelayConfig
from copa_ranking.engine.crossings import ChipOwner, FinishRule
from copa_ranking.engine.draw import GroupDraw, draw_group
from copa_ranking.engine.groups import Entrant, RaceGroup
from copa_ranking.engine.terms import Bib, EngineError, RaceGender
from copa_ranking.engine.times import Ruling

RELAY_GENDER: Final[RaceGender] = "X"
"""The relay's one mixed group (`copa_contracts.common.RaceGender`)."""


def relay_group(relay: RelayConfig) -> RaceGroup:
    """The relay's one race group: (relay, mixed, its one category) (RULES §8)."""
    return RaceGroup(relay.code, RELAY_GENDER, relay.category)


def relay_division(relay: RelayConfig) -> RaceDivision:
    """RULES §8: races of at most ``race_max`` teams, one round, a timed final, no lanes."""
    return RaceDivision(race_max=relay.race_max, in_lanes=False)


def draw_relay(teams: Iterable[Entrant], relay: RelayConfig, seed: str) -> GroupDraw:
    """The relay's races, drawn like any round 1 (RULES §5, §8): by lot from ``seed``."""
    return draw_group(relay_group(relay), teams, relay_division(relay), seed)


def relay_finish_rule(relay: RelayConfig) -> FinishRule:
    """The last leg crosses the finish line once; earlier crossings are not finishes."""
    return FinishRule.relay(relay)


def relay_chips(
    team_chips: Mapping[Bib, Sequence[str]], relay: RelayConfig
) -> dict[str, ChipOwner]:
    """Chips of a relay race: each team's chips in leg order; the last leg's one finishes."""
    legs = len(relay.legs_m)
    owners: dict[str, ChipOwner] = {}
    for team, chips in team_chips.items():
        if len(chips) != legs:
            raise EngineError(f"relay team {team}: {len(chips)} chips for {legs} legs")
        for leg, chip in enumerate(chips, start=1):
            if chip in owners:
                raise EngineError(f"chip {chip} is worn twice in one relay race")
            owners[chip] = ChipOwner(team, leg=leg, finishes=leg == legs)
    return owners


def team_ruling(team: Bib, member_rulings: Iterable[Ruling]) -> Ruling | None:
    """A team's DQ from its members' (WA: a breach by one member disqualifies the team).

    Returns the team's DQ with the first member DQ's rule, or ``None`` when no member is DQ.
    """
    for ruling in member_rulings:
        if ruling.status == "DQ":
            reason = f"member BIB {ruling.bib}: {ruling.reason}".rstrip(": ")
            return Ruling(team, "DQ", ruling.rule, reason)
    return None


__all__ = [
    "RELAY_GENDER",
    "draw_relay",
    "relay_chips",
    "relay_division",
    "relay_finish_rule",
    "relay_group",
    "team_ruling",
]
