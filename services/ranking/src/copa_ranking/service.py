"""Ranking's composition root: what it serves, consumes and produces."""

from pathlib import Path

from copa_contracts import topics
from copa_contracts.participants import DistanceChanged, KitIssued, ParticipantPaid
from copa_ranking import roster
from copa_runtime.consumer import Subscription
from copa_runtime.service import ServiceDefinition

definition = ServiceDefinition(
    name=topics.RANKING,
    title="Copa Run ranking",
    summary="Races, heats and lanes, times, places, qualifiers, finals, standings, judges' "
    "decisions and protests, and the public results API (RULES.md §5, §6, §9).",
    migrations_dir=Path(__file__).parent / "migrations",
    subscriptions=(
        Subscription(
            name="roster",
            topics=(topics.PARTICIPANTS,),
            handlers={
                ParticipantPaid: roster.on_paid,
                DistanceChanged: roster.on_distance_changed,
                KitIssued: roster.on_kit_issued,
            },
        ),
        # Subscribed and tracked; no handler applies these events yet (issue 5).
        Subscription(
            name="timing",
            topics=(topics.READS, topics.STARTS, topics.PHOTO_FINISH),
        ),
    ),
    produces=(
        topics.START_LISTS,
        topics.RESULTS,
        topics.STANDINGS,
        topics.JUDGES_EXCEPTIONS,
        topics.PROTESTS,
    ),
    missing=(
        "No engine yet: race division, lanes, schedule, finish detection, times, places, "
        "qualifiers, standings, judges' decisions, protests, public results API (issue 5). "
        "The roster is kept from participant events; timing events are read but not applied.",
    ),
)
