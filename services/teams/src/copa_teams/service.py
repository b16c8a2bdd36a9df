"""Teams' composition root: what it serves, consumes and produces."""

from pathlib import Path

from copa_contracts import topics
from copa_runtime.consumer import Subscription
from copa_runtime.service import ServiceDefinition

definition = ServiceDefinition(
    name=topics.TEAMS,
    title="Copa Run teams",
    summary="Team classifications of reg 4.2.4 and the relay's team standings and prizes "
    "(RULES.md §7, §8).",
    migrations_dir=Path(__file__).parent / "migrations",
    subscriptions=(
        # Subscribed and tracked; no handler applies these events yet (issue 6).
        Subscription(
            name="results",
            topics=(topics.PARTICIPANTS, topics.RELAY_TEAMS, topics.RESULTS, topics.STANDINGS),
        ),
    ),
    produces=(topics.TEAM_STANDINGS,),
    missing=(
        "No team applications API, scoring or standings yet (issue 6); the consumer records "
        "what it reads but applies nothing. The `team_applications` table exists.",
    ),
)
