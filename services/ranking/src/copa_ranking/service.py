"""Ranking's composition root: what it serves, consumes and produces."""

from pathlib import Path

from copa_contracts import topics
from copa_contracts.participants import (
    CategoryChanged,
    DistanceChanged,
    KitIssued,
    ParticipantBanned,
    ParticipantPaid,
    RelayLegOrderChanged,
    RelayTeamKitIssued,
    RelayTeamRegistered,
)
from copa_contracts.timing import ChipRead, PhotoFinishResultParsed, StartRecalled, StartSignal
from copa_ranking import race_day, relay, roster, timing
from copa_ranking.api import desk, public
from copa_runtime.consumer import Subscription
from copa_runtime.service import ServiceDefinition

definition = ServiceDefinition(
    name=topics.RANKING,
    title="Copa Run ranking",
    summary="Races, heats and lanes, times, places, qualifiers, finals, standings, judges' "
    "decisions and protests, and the public results API (RULES.md §5, §6, §9).",
    migrations_dir=Path(__file__).parent / "migrations",
    routers=(desk.router, public.router),
    subscriptions=(
        Subscription(
            name="roster",
            topics=(topics.PARTICIPANTS, topics.RELAY_TEAMS),
            handlers={
                ParticipantPaid: roster.on_paid,
                DistanceChanged: roster.on_distance_changed,
                KitIssued: roster.on_kit_issued,
                CategoryChanged: roster.on_category_changed,
                ParticipantBanned: roster.on_banned,
                RelayTeamRegistered: relay.on_registered,
                RelayLegOrderChanged: relay.on_leg_order_changed,
                RelayTeamKitIssued: relay.on_kit_issued,
            },
        ),
        Subscription(
            name="timing",
            topics=(topics.READS, topics.STARTS, topics.PHOTO_FINISH),
            handlers={
                StartSignal: timing.on_start,
                StartRecalled: timing.on_recall,
                PhotoFinishResultParsed: timing.on_photo_finish,
            },
            batch_handlers={ChipRead: timing.on_reads},
            batch_scope=race_day.standings_once_per_batch,
        ),
    ),
    produces=(
        topics.START_LISTS,
        topics.RESULTS,
        topics.STANDINGS,
        topics.JUDGES_EXCEPTIONS,
        topics.PROTESTS,
    ),
)
