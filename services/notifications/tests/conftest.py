"""Helpers of the notifications tests: events as registration, ranking and teams publish them,
put on the real bus; mail read back from a real SMTP server."""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from aiokafka import AIOKafkaProducer

from copa.embedded.smtp import ReceivedMail, SmtpSink
from copa_contracts import topics
from copa_contracts.common import Contact
from copa_contracts.envelope import Envelope, Event
from copa_contracts.participants import (
    ApplicationReceived,
    ApplicationRefused,
    DistanceChanged,
    EditionPostponed,
    FreeSlotGranted,
    FreeSlotRefused,
    HoldExpired,
    KitIssued,
    ParticipantBanned,
    ParticipantPaid,
    QualificationAccepted,
    QualificationRefused,
    RelayMember,
    RelayTeamRegistered,
)
from copa_contracts.ranking import (
    ProtestAnswered,
    ProtestReceived,
    RaceResultEntry,
    RaceResultsProvisional,
    StandingsEntry,
    StandingsUpdated,
    StartListEntry,
    StartListPublished,
)
from copa_contracts.teams import TeamEntryScore, TeamStanding, TeamStandingsUpdated
from copa_notifications.handlers import HANDLERS
from copa_notifications.service import definition
from copa_runtime.db import Database
from copa_runtime.kafka import ensure_topics, topics_with_dead_letters
from copa_runtime.migrations import upgrade_async

FAST = {
    "COPA_NOTIFICATIONS_IDLE_POLL_S": "0.1",
    "COPA_NOTIFICATIONS_SEND_RATE": "500",
    "COPA_NOTIFICATIONS_BACKOFF_BASE_S": "0.3",
    "COPA_NOTIFICATIONS_BACKOFF_MAX_S": "1",
    "COPA_NOTIFICATIONS_REMINDER_POLL_S": "3600",
    "COPA_PUBLIC_RESULTS_URL": "https://copa.run/results/2024",
}
NAMES = {"ru": ("Айгерим", "Сапарова"), "kk": ("Дәулет", "Нұрланов"), "en": ("Anna", "Smith")}
AT = datetime(2024, 3, 10, 6, 0, tzinfo=UTC)


@pytest.fixture
def notif():
    """These helpers, for the tests (test modules cannot import a conftest by name)."""
    return sys.modules[__name__]


@pytest.fixture
def fast_env(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Environment for the service subprocess: quick polls and backoff, the given SMTP."""

    def apply(smtp_url: str, **extra: str) -> None:
        for name, value in {**FAST, **extra}.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("SMTP_URL", smtp_url)

    return apply


@pytest.fixture
def own_smtp() -> Iterator[SmtpSink]:
    """An SMTP server of this test's own, which it may stop and start on the same port."""
    sink = SmtpSink()
    try:
        yield sink
    finally:
        sink.stop()


@pytest.fixture
async def db(postgres_server):
    """Notifications' own database, migrated, for tests that call its handlers directly."""
    name = f"notifications_direct_{uuid.uuid4().hex[:8]}"
    url = await postgres_server.create_database(name)
    await upgrade_async(definition.migrations_dir, url)
    database = Database(url, service="notifications")
    try:
        yield database
    finally:
        await database.dispose()
        await postgres_server.drop_database(name)


async def consume(db: Database, *events: Event) -> None:
    """Apply events with the service's own handlers, as its consumer does."""
    async with db.unit_of_work() as session:
        for event in events:
            await HANDLERS[type(event)](session, event, envelope(event))


def contact(language: str, tag: str) -> Contact:
    first, last = NAMES[language]
    return Contact(
        first_name=first,
        last_name=f"{last}-{tag[-6:]}",
        email=f"{tag}-{language}@example.kz",
        language=language,
    )


class Person:
    """One participant and the events registration publishes about them."""

    def __init__(self, language: str, tag: str, *, distance: str = "100m", bib: int = 17) -> None:
        self.id = uuid.uuid4()
        self.language = language
        self.contact = contact(language, tag)
        self.number = f"CR24-{self.id.hex[:6].upper()}"
        self.distance = distance
        self.bib = bib

    @property
    def email(self) -> str:
        return self.contact.email

    def _base(self) -> dict[str, object]:
        return {
            "participant_id": self.id,
            "registration_number": self.number,
            "edition": "2024",
            "contact": self.contact,
        }

    def applied(self, *, qualification: bool = False) -> ApplicationReceived:
        """As registration publishes it: a 3000 m application holds no slot (so no deadline)
        until an organizer accepted the qualifying result (reg 4.2.3)."""
        return ApplicationReceived(
            **self._base(),
            distance=self.distance,
            gender="F",
            age_category="18-34",
            fee_kzt=9000 if qualification else 5000,
            hold_expires_at=None if qualification else AT + timedelta(minutes=30),
            qualification_required=qualification,
            awaiting="qualification_check" if qualification else None,
        )

    def paid(self) -> ParticipantPaid:
        return ParticipantPaid(
            **self._base(),
            distance=self.distance,
            gender="F",
            age_category="18-34",
            bib=self.bib,
            amount_kzt=5000,
            payment_method="online",
            paid_at=AT,
        )

    def hold_expired(self) -> HoldExpired:
        return HoldExpired(**self._base(), distance=self.distance, expired_at=AT)

    def refused(self) -> ApplicationRefused:
        return ApplicationRefused(
            **self._base(), reason="distance_full", clause="7.6", refused_at=AT
        )

    def distance_changed(self) -> DistanceChanged:
        return DistanceChanged(
            **self._base(),
            from_distance="100m",
            to_distance="1000m",
            age_category="18-34",
            old_bib=self.bib,
            new_bib=1204,
            change_fee_kzt=1000,
            fee_difference_kzt=2000,
            changed_at=AT,
        )

    def free_slot_granted(self) -> FreeSlotGranted:
        return FreeSlotGranted(
            **self._base(), distance="100m", granted_by="org", granted_at=AT, pool_remaining=3
        )

    def free_slot_refused(self) -> FreeSlotRefused:
        return FreeSlotRefused(
            **self._base(), reason="pool_exhausted", refused_by="org", refused_at=AT
        )

    def qualification_accepted(self) -> QualificationAccepted:
        return QualificationAccepted(
            **self._base(),
            distance="3000m",
            result_time_us=742_150_000,
            qualifying_time_us=780_000_000,
            result_date=date(2023, 9, 10),
            accepted_by="org",
            accepted_at=AT,
            hold_expires_at=AT + timedelta(minutes=30),  # the hold starts now (RULES §3)
        )

    def qualification_refused(self) -> QualificationRefused:
        return QualificationRefused(
            **self._base(),
            distance="3000m",
            reason="older_than_three_years",
            result_time_us=742_150_000,
            qualifying_time_us=780_000_000,
            refused_by=None,
            refused_at=AT,
        )

    def kit_issued(self) -> KitIssued:
        return KitIssued(
            **self._base(),
            bib=self.bib,
            chip="CHIP-1",
            chip_pre_paired=False,
            collected_by_proxy=True,
            issued_at=AT,
        )

    def banned(self) -> ParticipantBanned:
        return ParticipantBanned(
            **self._base(),
            clause="7.11",
            reason="BIB handed to someone else",
            editions_banned=3,
            banned_by="org",
            banned_at=AT,
        )

    def protest_received(self) -> ProtestReceived:
        return ProtestReceived(
            protest_id=uuid.uuid4(),
            edition="2024",
            participant_id=self.id,
            race_id=None,
            claim="My time is missing.",
            evidence_url=None,
            received_at=AT,
            answer_due_at=AT + timedelta(hours=24),
            contact=self.contact,
        )

    def protest_answered(self) -> ProtestAnswered:
        return ProtestAnswered(
            protest_id=uuid.uuid4(),
            participant_id=self.id,
            decision="rejected",
            answer="The photo finish shows the order was right.",
            answered_by="chief",
            answered_at=AT,
            within_deadline=True,
            contact=self.contact,
        )


def relay_team(language: str, tag: str) -> RelayTeamRegistered:
    members = tuple(
        RelayMember(
            member_id=uuid.uuid4(),
            leg=leg,
            leg_distance_m=metres,
            first_name=f"Runner{leg}",
            last_name="Team",
            gender="F",
        )
        for leg, metres in enumerate((800, 400, 200, 100), start=1)
    )
    return RelayTeamRegistered(
        relay_team_id=uuid.uuid4(),
        registration_number="RT-1",
        edition="2024",
        team_name="Almaty Runners",
        contact=contact(language, tag),
        bib=5012,
        members=members,
        amount_kzt=20000,
        payment_method="online",
        paid_at=AT,
    )


def race(people: list[Person], race_id: uuid.UUID, *, revision: int = 1, start_minute: int = 15):
    return StartListPublished(
        race_id=race_id,
        edition="2024",
        distance="100m",
        gender="F",
        age_category="18-34",
        round="heat",
        heat_number=2,
        revision=revision,
        race_number=7,
        races_in_round=3,
        scheduled_start_at=datetime(2024, 3, 17, 4, start_minute, tzinfo=UTC),
        seeding="random_draw",
        draw_seed="seed",
        entries=tuple(
            StartListEntry(position=n, lane=n, participant_id=p.id, relay_team_id=None, bib=p.bib)
            for n, p in enumerate(people, start=1)
        ),
    )


def results(
    kind: type,
    people: list[Person],
    race_id: uuid.UUID,
    *,
    first_time_us: int = 12_340_000,
    **extra,
):
    entries = tuple(
        RaceResultEntry(
            place=n,
            participant_id=p.id,
            relay_team_id=None,
            bib=p.bib,
            lane=n,
            status="OK",
            gun_time_us=first_time_us,
            official_time_us=first_time_us,
            time_source="photo_finish",
            qualified=n == 1,
        )
        for n, p in enumerate(people, start=1)
    )
    return kind(
        race_id=race_id,
        edition="2024",
        distance="100m",
        gender="F",
        age_category="18-34",
        round="heat",
        heat_number=2,
        revision=1,
        started_at=datetime(2024, 3, 17, 4, 15, tzinfo=UTC),
        entries=entries,
        **extra,
    )


def standings(people: list[Person], *, category: bool) -> StandingsUpdated:
    return StandingsUpdated(
        standings_id=f"2024/100m/F/{'18-34' if category else 'all'}",
        edition="2024",
        distance="100m",
        gender="F",
        age_category="18-34" if category else None,
        status="provisional",
        revision=1,
        entrants_count=len(people),
        entries=tuple(
            StandingsEntry(
                place=5 if category else 9,
                participant_id=p.id,
                bib=p.bib,
                age_category="18-34",
                status="OK",
                gun_time_us=12_340_000,
                official_time_us=12_340_000,
                race_id=None,
            )
            for n, p in enumerate(people, start=1)
        ),
    )


def team_standings(people: list[Person]) -> TeamStandingsUpdated:
    return TeamStandingsUpdated(
        classification="sprint",
        edition="2024",
        status="official",
        revision=1,
        standings=(
            TeamStanding(
                place=2,
                team_id=uuid.uuid4(),
                team_name="Almaty Runners",
                points=41,
                last_scorer_place=12,
                entries=tuple(
                    TeamEntryScore(
                        participant_id=p.id,
                        bib=p.bib,
                        distance="100m",
                        gender="F",
                        place=3,
                        status="OK",
                        points=3,
                        penalty=False,
                    )
                    for p in people
                ),
            ),
        ),
    )


def postponed() -> EditionPostponed:
    return EditionPostponed(
        edition="2024",
        previous_date=date(2024, 3, 17),
        new_date=date(2024, 3, 24),
        reason="Heavy snowfall.",
        announced_by="org",
        announced_at=AT,
    )


def envelope(event: Event) -> Envelope:
    topic = topics.topic_of(event)
    return Envelope.wrap(event, producer=topic.producer, key=str(getattr(event, topic.key)))


class Bus:
    """Puts envelopes on the real broker, as the other services' relays do."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap

    async def publish(self, *items: Event | Envelope) -> list[Envelope]:
        await ensure_topics(self.bootstrap, topics_with_dead_letters(topics.ALL_TOPICS))
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all")
        await producer.start()
        sent = []
        try:
            for item in items:
                env = item if isinstance(item, Envelope) else envelope(item)
                topic = topics.topic_of(topics_event_class(env))
                await producer.send_and_wait(topic.name, env.to_bytes(), key=env.key.encode())
                sent.append(env)
        finally:
            await producer.stop()
        return sent


def topics_event_class(env: Envelope) -> type[Event]:
    for event_class in topics.ALL_EVENTS:
        if event_class.event_type == env.type:
            return event_class
    raise LookupError(env.type)


@pytest.fixture
def bus(kafka_bootstrap: str) -> Bus:
    return Bus(kafka_bootstrap)


def mails_to(sink: SmtpSink, address: str) -> list[ReceivedMail]:
    return [m for m in sink.messages if address in m.rcpt_tos]


async def wait_for_mails(
    sink: SmtpSink, address: str, count: int, timeout_s: float = 120.0, settle_s: float = 1.0
) -> list[ReceivedMail]:
    """Mail to ``address`` once ``count`` arrived, and a little longer so an extra would show."""
    deadline = time.monotonic() + timeout_s
    while len(mails_to(sink, address)) < count:
        if time.monotonic() > deadline:
            got = [m.subject for m in mails_to(sink, address)]
            raise AssertionError(f"expected {count} mails to {address}, got {len(got)}: {got}")
        await asyncio.sleep(0.05)
    await asyncio.sleep(settle_s)
    return mails_to(sink, address)


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.1)


def relay_race(teams: list[RelayTeamRegistered], race_id: uuid.UUID) -> StartListPublished:
    """The medley relay's race: one round, timed final (RULES §8)."""
    return StartListPublished(
        race_id=race_id,
        edition="2024",
        distance="relay",
        gender="X",
        age_category="open",
        round="timed_final",
        heat_number=1,
        revision=1,
        race_number=30,
        races_in_round=1,
        scheduled_start_at=datetime(2024, 3, 17, 10, 0, tzinfo=UTC),
        seeding="random_draw",
        draw_seed="relay",
        entries=tuple(
            StartListEntry(
                position=n, lane=None, participant_id=None, relay_team_id=t.relay_team_id, bib=t.bib
            )
            for n, t in enumerate(teams, start=1)
        ),
    )


def relay_results(teams: list[RelayTeamRegistered], race_id: uuid.UUID) -> RaceResultsProvisional:
    return RaceResultsProvisional(
        race_id=race_id,
        edition="2024",
        distance="relay",
        gender="X",
        age_category="open",
        round="timed_final",
        heat_number=1,
        revision=1,
        started_at=datetime(2024, 3, 17, 10, 0, tzinfo=UTC),
        entries=tuple(
            RaceResultEntry(
                place=n,
                participant_id=None,
                relay_team_id=t.relay_team_id,
                bib=t.bib,
                status="OK",
                gun_time_us=251_000_000,
                official_time_us=251_000_000,
                time_source="chip",
            )
            for n, t in enumerate(teams, start=1)
        ),
    )
