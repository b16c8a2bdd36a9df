"""Teams' composition root: what it serves, consumes and produces."""

from pathlib import Path

from copa_contracts import topics
from copa_contracts.participants import (
    DistanceChanged,
    ParticipantPaid,
    RelayLegOrderChanged,
    RelayTeamRegistered,
)
from copa_contracts.ranking import (
    RaceResultsCorrected,
    RaceResultsOfficial,
    RaceResultsProvisional,
    StandingsUpdated,
    StartListPublished,
)
from copa_runtime.consumer import Subscription
from copa_runtime.service import ServiceDefinition
from copa_teams import projections
from copa_teams.api import router

definition = ServiceDefinition(
    name=topics.TEAMS,
    title="Copa Run teams",
    summary="Team classifications of reg 4.2.4 (applications, points, tie-breaks, tables) and "
    "the relay's standings and prize list (RULES.md §7, §8); public tables in JSON and CSV.",
    migrations_dir=Path(__file__).parent / "migrations",
    routers=(router,),
    subscriptions=(
        Subscription(
            name="results",
            topics=(
                topics.PARTICIPANTS,
                topics.RELAY_TEAMS,
                topics.START_LISTS,
                topics.RESULTS,
                topics.STANDINGS,
            ),
            batch_handlers={
                ParticipantPaid: projections.on_paid,
                DistanceChanged: projections.on_distance_changed,
                StandingsUpdated: projections.on_standings,
                RelayTeamRegistered: projections.on_relay_team,
                RelayLegOrderChanged: projections.on_relay_team,
                StartListPublished: projections.on_relay_start_list,
                RaceResultsProvisional: projections.on_race_results,
                RaceResultsOfficial: projections.on_race_results,
                RaceResultsCorrected: projections.on_race_results,
            },
        ),
    ),
    produces=(topics.TEAM_STANDINGS,),
)
