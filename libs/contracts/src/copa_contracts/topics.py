"""Every topic of the system, declared once (ARCHITECTURE.md, "The bus").

Names are ``<producer domain>.<entity>.v<N>``; the ``vN`` changes only for an incompatible
change (within a version fields are only added, and optional). Each topic has exactly one
producing service; the key is the entity whose events must stay in order. Partition counts are
race-day defaults for the Almaty edition: reads get the most because a finish burst is the
heaviest load; the small administrative topics get one so their order is total.

Dead letters of a topic go to ``<name>.dlq`` (:func:`copa_contracts.topic.dead_letter_topic`),
carrying a :class:`copa_contracts.dead_letter.DeadLetter`.
"""

from __future__ import annotations

from copa_contracts.envelope import Event
from copa_contracts.notifications import DELIVERY_EVENTS
from copa_contracts.participants import (
    CORPORATE_BATCH_EVENTS,
    EDITION_EVENTS,
    PARTICIPANT_EVENTS,
    PAYMENT_EVENTS,
    RELAY_TEAM_EVENTS,
)
from copa_contracts.ranking import (
    JUDGES_EXCEPTION_EVENTS,
    PROTEST_EVENTS,
    RESULT_EVENTS,
    STANDINGS_EVENTS,
    START_LIST_EVENTS,
)
from copa_contracts.teams import TEAM_STANDINGS_EVENTS
from copa_contracts.timing import PHOTO_FINISH_EVENTS, READ_EVENTS, START_EVENTS
from copa_contracts.topic import Topic, UnknownEventType

REGISTRATION = "registration"
TIMING_INGEST = "timing-ingest"
RANKING = "ranking"
TEAMS = "teams"
NOTIFICATIONS = "notifications"
SERVICES: tuple[str, ...] = (REGISTRATION, TIMING_INGEST, RANKING, TEAMS, NOTIFICATIONS)
"""The five services (ARCHITECTURE.md); the ``producer`` of every topic is one of them."""

PARTICIPANTS = Topic(
    name="registration.participants.v1",
    key="participant_id",
    description="Life of an individual entry: application, hold, payment and BIB, distance "
    "change, free slot, qualification, starter kit and chip, ban (reg 7, 8).",
    events=PARTICIPANT_EVENTS,
    partitions=6,
    producer=REGISTRATION,
)
RELAY_TEAMS = Topic(
    name="registration.relay-teams.v1",
    key="relay_team_id",
    description="Relay team entries: registration with members and legs, leg order changes, "
    "kits and chips (RULES §8).",
    events=RELAY_TEAM_EVENTS,
    partitions=3,
    producer=REGISTRATION,
)
CORPORATE_BATCHES = Topic(
    name="registration.corporate-batches.v1",
    key="corporate_batch_id",
    description="Corporate entries confirmed as a batch after a bank transfer (reg 7.2).",
    events=CORPORATE_BATCH_EVENTS,
    partitions=1,
    producer=REGISTRATION,
)
EDITIONS = Topic(
    name="registration.editions.v1",
    key="edition",
    description="Changes to the edition itself: a postponement to a new date (reg 16.1).",
    events=EDITION_EVENTS,
    partitions=1,
    producer=REGISTRATION,
)
PAYMENTS = Topic(
    name="registration.payments.v1",
    key="transaction_key",
    description="Payments received that could not be applied (unknown ID, wrong amount, hold "
    "expired and sold out) and wait for an organizer (reg 7.7, RULES §3).",
    events=PAYMENT_EVENTS,
    partitions=1,
    producer=REGISTRATION,
)
READS = Topic(
    name="timing.reads.v1",
    key="chip",
    description="Raw chip reads, one per message, keyed by chip so that one chip's crossings "
    "stay in order (RULES §6).",
    events=READ_EVENTS,
    partitions=12,
    producer=TIMING_INGEST,
)
STARTS = Topic(
    name="timing.starts.v1",
    key="race_id",
    description="Start signals and recalls of races: gun times count from them (reg 11.4).",
    events=START_EVENTS,
    partitions=3,
    producer=TIMING_INGEST,
)
PHOTO_FINISH = Topic(
    name="timing.photo-finish.v1",
    key="race_id",
    description="Photo-finish result files (FinishLynx `.lif`) parsed per race: the best "
    "source of finish times and order (RULES §6).",
    events=PHOTO_FINISH_EVENTS,
    partitions=3,
    producer=TIMING_INGEST,
)
START_LISTS = Topic(
    name="ranking.start-lists.v1",
    key="race_id",
    description="Start lists: heat draws, lanes and start times per race (reg 11.3).",
    events=START_LIST_EVENTS,
    partitions=6,
    producer=RANKING,
)
RESULTS = Topic(
    name="ranking.results.v1",
    key="race_id",
    description="Race results, provisional, official and corrected (reg 11.1, 11.3.7, 17).",
    events=RESULT_EVENTS,
    partitions=6,
    producer=RANKING,
)
STANDINGS = Topic(
    name="ranking.standings.v1",
    key="standings_id",
    description="Standings per distance, gender and age category, and per distance and "
    "gender across categories for the team classification (reg 11.1-11.3, 4.2.4).",
    events=STANDINGS_EVENTS,
    partitions=3,
    producer=RANKING,
)
JUDGES_EXCEPTIONS = Topic(
    name="ranking.judges-exceptions.v1",
    key="exception_id",
    description="Doubts put in front of the judges (unknown chips, missing crossings...) and "
    "how they were resolved (reg 11.3.8, 15.2).",
    events=JUDGES_EXCEPTION_EVENTS,
    partitions=3,
    producer=RANKING,
)
PROTESTS = Topic(
    name="ranking.protests.v1",
    key="protest_id",
    description="Protests received and answered, with the 24 h answer deadline (reg 17).",
    events=PROTEST_EVENTS,
    partitions=1,
    producer=RANKING,
)
TEAM_STANDINGS = Topic(
    name="teams.standings.v1",
    key="classification",
    description="Team classification tables (Sprint, Medium-range; reg 4.2.4) and the relay "
    "standings with the prize list (RULES §8).",
    events=TEAM_STANDINGS_EVENTS,
    partitions=1,
    producer=TEAMS,
)
DELIVERIES = Topic(
    name="notifications.deliveries.v1",
    key="delivery_id",
    description="Outcome of every e-mail: sent, failed (will retry), gave up.",
    events=DELIVERY_EVENTS,
    partitions=3,
    producer=NOTIFICATIONS,
)

ALL_TOPICS: tuple[Topic, ...] = (
    PARTICIPANTS,
    RELAY_TEAMS,
    CORPORATE_BATCHES,
    EDITIONS,
    PAYMENTS,
    READS,
    STARTS,
    PHOTO_FINISH,
    START_LISTS,
    RESULTS,
    STANDINGS,
    JUDGES_EXCEPTIONS,
    PROTESTS,
    TEAM_STANDINGS,
    DELIVERIES,
)

ALL_EVENTS: tuple[type[Event], ...] = tuple(event for topic in ALL_TOPICS for event in topic.events)
"""Every event type of the system, in topic order."""

_BY_NAME: dict[str, Topic] = {topic.name: topic for topic in ALL_TOPICS}
_BY_EVENT: dict[type[Event], Topic] = {
    event: topic for topic in ALL_TOPICS for event in topic.events
}


class UnknownTopic(KeyError):
    """No topic of the system has that name."""


def topic_by_name(name: str) -> Topic:
    """The topic called ``name`` (e.g. ``timing.reads.v1``)."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise UnknownTopic(name) from None


def topic_of(event: Event | type[Event]) -> Topic:
    """The one topic an event type is published on (every event type has exactly one)."""
    event_class = event if isinstance(event, type) else type(event)
    try:
        return _BY_EVENT[event_class]
    except KeyError:
        raise UnknownEventType(f"no topic carries {event_class.__name__}") from None


__all__ = [
    "ALL_EVENTS",
    "ALL_TOPICS",
    "CORPORATE_BATCHES",
    "DELIVERIES",
    "EDITIONS",
    "JUDGES_EXCEPTIONS",
    "PARTICIPANTS",
    "PHOTO_FINISH",
    "PROTESTS",
    "READS",
    "RELAY_TEAMS",
    "RESULTS",
    "SERVICES",
    "STANDINGS",
    "STARTS",
    "START_LISTS",
    "TEAM_STANDINGS",
    "UnknownTopic",
    "topic_by_name",
    "topic_of",
]
