"""The teams engine: reg 4.2.4 and RULES.md §7-§8 as pure functions (no I/O).

It imports the standard library and the contracts' configuration types only: no web
framework, database or broker (ARCHITECTURE.md). The service layer feeds it what the bus and
the database hold and publishes what it returns.

* :mod:`.applications` checking a team application against the registered participants;
* :mod:`.scoring` entry points, team totals, the tie-break, the classification table;
* :mod:`.relay` the relay's standings across races and its prize list.
"""

from copa_teams.engine.applications import (
    ClassificationRules,
    EntryDeclaration,
    Finding,
    Participant,
    Verdict,
    check_application,
)
from copa_teams.engine.relay import (
    RelayLine,
    RelayPlace,
    RelayRace,
    RelayTable,
    RelayTeam,
    relay_table,
)
from copa_teams.engine.scoring import (
    ClassificationTable,
    EntryScore,
    GenderStandings,
    StandingLine,
    Team,
    TeamScore,
    Waiting,
    classify,
    rank_teams,
    score_entry,
)
from copa_teams.engine.terms import EngineError, name_tokens

__all__ = [
    "ClassificationRules",
    "ClassificationTable",
    "EngineError",
    "EntryDeclaration",
    "EntryScore",
    "Finding",
    "GenderStandings",
    "Participant",
    "RelayLine",
    "RelayPlace",
    "RelayRace",
    "RelayTable",
    "RelayTeam",
    "StandingLine",
    "Team",
    "TeamScore",
    "Verdict",
    "Waiting",
    "check_application",
    "classify",
    "name_tokens",
    "rank_teams",
    "relay_table",
    "score_entry",
]
