"""One realistic, valid example of every event type (Almaty Copa Run 2024, race day).

Why in the package and not in the tests: the same examples are exported into the AsyncAPI
document (a reader sees a real message next to each schema) and used by the tests, so an
example can never show a message the code would refuse. Ids and instants are fixed so that the
export is deterministic.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from copa_contracts.common import Contact, Gender
from copa_contracts.envelope import Envelope, Event
from copa_contracts.notifications import DeliveryFailed, DeliveryGaveUp, DeliverySent
from copa_contracts.participants import (
    ApplicationReceived,
    ApplicationRefused,
    CategoryChanged,
    CorporateBatchConfirmed,
    DistanceChanged,
    EditionPostponed,
    FreeSlotGranted,
    FreeSlotRefused,
    HoldExpired,
    KitIssued,
    ParticipantBanned,
    ParticipantPaid,
    PaymentNeedsAttention,
    QualificationAccepted,
    QualificationRefused,
    RelayLegOrderChanged,
    RelayMember,
    RelayMemberChip,
    RelayTeamKitIssued,
    RelayTeamRegistered,
)
from copa_contracts.ranking import (
    JudgesExceptionRaised,
    JudgesExceptionResolved,
    ProtestAnswered,
    ProtestReceived,
    RaceResultEntry,
    RaceResultsCorrected,
    RaceResultsOfficial,
    RaceResultsProvisional,
    StandingsEntry,
    StandingsUpdated,
    StartListEntry,
    StartListPublished,
    standings_id,
)
from copa_contracts.teams import (
    RelayStanding,
    RelayStandingsUpdated,
    TeamEntryScore,
    TeamStanding,
    TeamStandingsUpdated,
)
from copa_contracts.timing import (
    ChipRead,
    PhotoFinishLine,
    PhotoFinishResultParsed,
    StartRecalled,
    StartSignal,
    chip_read_event_id,
)
from copa_contracts.topics import topic_of


def _id(n: int) -> uuid.UUID:
    return uuid.UUID(int=(0x4000 << 64) + n)  # readable fixed ids: 00000000-...-4000-...-<n>


def _at(month: int, day: int, hour: int, minute: int, second: int = 0, us: int = 0) -> datetime:
    return datetime(2024, month, day, hour, minute, second, us, tzinfo=UTC)


S = 1_000_000  # microseconds per second

ASEL = Contact(first_name="Asel", last_name="Nurlanova", email="asel@example.kz", language="kk")
DMITRY = Contact(first_name="Dmitry", last_name="Ivanov", email="dmitry@example.kz", language="ru")
CAPTAIN = Contact(
    first_name="Aruzhan", last_name="Sadykova", email="team@example.kz", language="en"
)

ASEL_ID, DMITRY_ID = _id(1), _id(2)
TEAM_ID, BATCH_ID = _id(10), _id(11)
HEAT_ID, FINAL_ID, RELAY_RACE_ID = _id(20), _id(21), _id(22)
MEMBERS = (_id(31), _id(32), _id(33), _id(34))
PROTEST_ID, EXCEPTION_ID, DELIVERY_ID = _id(40), _id(41), _id(42)

_asel = {"participant_id": ASEL_ID, "registration_number": "CR24-000101", "edition": "2024"}
_dmitry = {"participant_id": DMITRY_ID, "registration_number": "CR24-000102", "edition": "2024"}
_team = {
    "relay_team_id": TEAM_ID,
    "registration_number": "CR24-R0007",
    "edition": "2024",
    "team_name": "Qulpynay Bakery",
    "contact": CAPTAIN,
}


def _relay_members(order: tuple[int, int, int, int]) -> tuple[RelayMember, ...]:
    people: tuple[tuple[str, str, Gender], ...] = (
        ("Aruzhan", "Sadykova", "F"),
        ("Timur", "Akhmetov", "M"),
        ("Dana", "Bekova", "F"),
        ("Ruslan", "Omarov", "M"),
    )
    legs_m = (800, 400, 200, 100)
    return tuple(
        RelayMember(
            member_id=MEMBERS[runner],
            leg=leg + 1,
            leg_distance_m=legs_m[leg],
            first_name=people[runner][0],
            last_name=people[runner][1],
            gender=people[runner][2],
        )
        for leg, runner in enumerate(order)
    )


_heat = {
    "race_id": HEAT_ID,
    "edition": "2024",
    "distance": "100m",
    "gender": "F",
    "age_category": "18-34",
    "round": "heat",
    "heat_number": 1,
}
_heat_results = (
    RaceResultEntry(
        place=1,
        participant_id=ASEL_ID,
        relay_team_id=None,
        bib=101,
        lane=4,
        status="OK",
        gun_time_us=13_401_000,
        official_time_us=13_410_000,
        net_time_us=13_392_000,
        time_source="photo_finish",
        qualified=True,
    ),
    RaceResultEntry(
        place=None,
        participant_id=_id(3),
        relay_team_id=None,
        bib=117,
        lane=5,
        status="DQ",
        dq_rule="7.12",
        gun_time_us=None,
        official_time_us=None,
        time_source=None,
    ),
)
_standings_entries = (
    StandingsEntry(
        place=1,
        participant_id=ASEL_ID,
        bib=101,
        age_category="18-34",
        status="OK",
        gun_time_us=13_401_000,
        official_time_us=13_410_000,
        race_id=FINAL_ID,
    ),
    StandingsEntry(
        place=None,
        participant_id=_id(4),
        bib=130,
        age_category="18-34",
        status="DNS",
        gun_time_us=None,
        official_time_us=None,
        race_id=None,
    ),
)


def example_events() -> tuple[Event, ...]:
    """One example per event type, in the order of :data:`copa_contracts.topics.ALL_EVENTS`."""
    return (
        ApplicationReceived(
            **_asel,
            contact=ASEL,
            distance="100m",
            gender="F",
            age_category="18-34",
            fee_kzt=5_000,
            hold_expires_at=_at(1, 20, 9, 30),
            qualification_required=False,
        ),
        HoldExpired(**_dmitry, contact=DMITRY, distance="3000m", expired_at=_at(1, 21, 12, 0)),
        ApplicationRefused(
            **_dmitry,
            contact=DMITRY,
            reason="distance_full",
            clause="7.6",
            detail="No free slot left on 3000m.",
            refused_at=_at(2, 28, 10, 0),
        ),
        ParticipantPaid(
            **_asel,
            contact=ASEL,
            distance="100m",
            gender="F",
            age_category="18-34",
            bib=101,
            amount_kzt=5_000,
            payment_method="online",
            paid_at=_at(1, 20, 9, 12),
        ),
        DistanceChanged(
            **_dmitry,
            contact=DMITRY,
            from_distance="1000m",
            to_distance="3000m",
            age_category="35-44",
            old_bib=1044,
            new_bib=3017,
            change_fee_kzt=1_000,
            fee_difference_kzt=2_000,
            changed_at=_at(3, 2, 11, 0),
        ),
        CategoryChanged(
            **_dmitry,
            contact=DMITRY,
            distance="3000m",
            from_category="35-44",
            to_category="45-54",
            reason="edition_postponed",
            changed_at=_at(3, 10, 6, 0),
        ),
        FreeSlotGranted(
            **_dmitry,
            contact=DMITRY,
            distance="1000m",
            granted_by="organizer:saule",
            granted_at=_at(2, 20, 5, 0),
            pool_remaining=17,
        ),
        FreeSlotRefused(
            **_dmitry,
            contact=DMITRY,
            reason="pool_exhausted",
            refused_by="organizer:saule",
            refused_at=_at(2, 27, 5, 0),
        ),
        QualificationAccepted(
            **_dmitry,
            contact=DMITRY,
            distance="3000m",
            result_time_us=(12 * 60 + 41) * S,
            qualifying_time_us=(13 * 60 + 30) * S,
            result_date=date(2023, 9, 24),
            accepted_by="organizer:saule",
            accepted_at=_at(2, 1, 6, 0),
            hold_expires_at=_at(2, 1, 6, 30),
        ),
        QualificationRefused(
            **_dmitry,
            contact=DMITRY,
            distance="3000m",
            reason="slower_than_qualifying_time",
            result_time_us=(14 * 60 + 2) * S,
            qualifying_time_us=(13 * 60 + 30) * S,
            refused_by=None,
            refused_at=_at(1, 25, 8, 0),
        ),
        KitIssued(
            **_asel,
            contact=ASEL,
            bib=101,
            chip="E2000017221101441890",
            chip_pre_paired=False,
            collected_by_proxy=False,
            issued_at=_at(3, 15, 7, 42),
        ),
        ParticipantBanned(
            **_dmitry,
            contact=DMITRY,
            clause="7.11",
            reason="Ran under BIB 3017 of another participant.",
            editions_banned=3,
            banned_by="organizer:saule",
            banned_at=_at(3, 18, 6, 0),
        ),
        RelayTeamRegistered(
            **_team,
            bib=5007,
            members=_relay_members((0, 1, 2, 3)),
            amount_kzt=20_000,
            payment_method="online",
            paid_at=_at(2, 5, 10, 0),
        ),
        RelayLegOrderChanged(
            **_team, members=_relay_members((1, 0, 2, 3)), changed_at=_at(3, 14, 10, 0)
        ),
        RelayTeamKitIssued(
            **_team,
            bib=5007,
            chips=tuple(
                RelayMemberChip(member_id=member, chip=f"E20000172211014419{n:02d}")
                for n, member in enumerate(MEMBERS, start=1)
            ),
            issued_at=_at(3, 16, 9, 0),
        ),
        CorporateBatchConfirmed(
            corporate_batch_id=BATCH_ID,
            edition="2024",
            company_name="Kaspi Runners LLP",
            participant_ids=(_id(101), _id(102), _id(103)),
            amount_kzt=21_000,
            confirmed_by="organizer:saule",
            confirmed_at=_at(2, 14, 5, 0),
            contact=Contact(
                first_name="Marat", last_name="Zhumabekov", email="hr@example.kz", language="ru"
            ),
        ),
        EditionPostponed(
            edition="2024",
            previous_date=date(2024, 3, 17),
            new_date=date(2024, 3, 24),
            reason="Postponed by order of the city akimat (reg 16.1).",
            announced_by="organizer:saule",
            announced_at=_at(3, 10, 5, 0),
        ),
        PaymentNeedsAttention(
            transaction_key="cloudpayments:3012456789",
            edition="2024",
            provider="cloudpayments",
            reason="wrong_amount",
            amount_kzt=4_000,
            amount_received="4000.00 KZT",
            expected_kzt=5_000,
            participant_id=_id(1),
            registration_number="R24-000417",
            received_at=_at(2, 3, 9, 12, 44),
        ),
        ChipRead(
            chip="E2000017221101441890",
            device_id="finish-mat-1",
            timing_point="finish",
            antenna=2,
            read_at=_at(3, 17, 3, 30, 13, 392_000),
            device_sequence=48_211,
            received_at=_at(3, 17, 3, 30, 13, 455_000),
        ),
        StartSignal(
            race_id=HEAT_ID,
            signal_id=_id(50),
            fired_at=_at(3, 17, 3, 30, 0, 0),
            device_id="start-system",
            source="start_system",
        ),
        StartRecalled(
            race_id=HEAT_ID,
            signal_id=_id(49),
            reason="false_start",
            recalled_at=_at(3, 17, 3, 29, 3),
        ),
        PhotoFinishResultParsed(
            race_id=HEAT_ID,
            file_name="001-1-01.lif",
            file_sha256="9f2b5c0e" * 8,
            event_number=1,
            round_number=1,
            heat_number=1,
            wind_text="+0.4",
            lines=(
                PhotoFinishLine(
                    place=1,
                    competitor_id="101",
                    lane=4,
                    time_us=13_401_000,
                    time_text="13.401",
                    status="finished",
                ),
                PhotoFinishLine(
                    place=None,
                    competitor_id="117",
                    lane=5,
                    time_us=None,
                    time_text="",
                    status="DQ",
                ),
            ),
            received_at=_at(3, 17, 3, 31, 2),
        ),
        StartListPublished(
            **_heat,
            revision=1,
            race_number=1,
            races_in_round=2,
            scheduled_start_at=_at(3, 17, 3, 30),
            seeding="random_draw",
            draw_seed="2024-100m-F-18-34-r1",
            entries=(
                StartListEntry(
                    position=1, lane=4, participant_id=ASEL_ID, relay_team_id=None, bib=101
                ),
                StartListEntry(
                    position=2, lane=5, participant_id=_id(3), relay_team_id=None, bib=117
                ),
            ),
        ),
        RaceResultsProvisional(
            **_heat, revision=1, started_at=_at(3, 17, 3, 30), entries=_heat_results
        ),
        RaceResultsOfficial(
            **_heat,
            revision=2,
            started_at=_at(3, 17, 3, 30),
            entries=_heat_results,
            confirmed_by="judge:chief",
            confirmed_at=_at(3, 17, 3, 45),
        ),
        RaceResultsCorrected(
            **_heat,
            revision=3,
            started_at=_at(3, 17, 3, 30),
            entries=_heat_results,
            reason="Protest upheld: lane 5 DQ confirmed on video.",
            protest_id=PROTEST_ID,
            corrected_by="judge:chief",
            corrected_at=_at(3, 18, 6, 0),
        ),
        StandingsUpdated(
            standings_id=standings_id("2024", "100m", "F", "18-34"),
            edition="2024",
            distance="100m",
            gender="F",
            age_category="18-34",
            status="provisional",
            revision=4,
            entrants_count=2,
            entries=_standings_entries,
        ),
        JudgesExceptionRaised(
            exception_id=EXCEPTION_ID,
            kind="chip_not_in_race",
            race_id=HEAT_ID,
            chip="E2000017221101449999",
            source_event_id=chip_read_event_id(
                "finish-mat-1", 48_250, "E2000017221101449999", _at(3, 17, 3, 30, 14)
            ),
            detail="Chip paired to BIB 3017 (3000m) read at the 100m finish.",
            raised_at=_at(3, 17, 3, 30, 15),
        ),
        JudgesExceptionResolved(
            exception_id=EXCEPTION_ID,
            race_id=HEAT_ID,
            resolution="dismissed",
            note="Spectator with a 3000m kit crossed the mat.",
            resolved_by="judge:finish",
            resolved_at=_at(3, 17, 3, 40),
        ),
        ProtestReceived(
            protest_id=PROTEST_ID,
            edition="2024",
            participant_id=_id(3),
            race_id=HEAT_ID,
            claim="I was not wearing headphones; the DQ should be lifted.",
            evidence_url="https://example.kz/video/heat1",
            received_at=_at(3, 17, 10, 0),
            answer_due_at=_at(3, 18, 10, 0),
            contact=Contact(
                first_name="Madina", last_name="Ospanova", email="madina@example.kz", language="ru"
            ),
        ),
        ProtestAnswered(
            protest_id=PROTEST_ID,
            participant_id=_id(3),
            decision="rejected",
            answer="The video shows headphones during the race (reg 7.12).",
            answered_by="organizer:saule",
            answered_at=_at(3, 18, 6, 0),
            within_deadline=True,
            contact=Contact(
                first_name="Madina", last_name="Ospanova", email="madina@example.kz", language="ru"
            ),
        ),
        TeamStandingsUpdated(
            classification="sprint",
            edition="2024",
            status="provisional",
            revision=1,
            standings=(
                TeamStanding(
                    place=1,
                    team_id=_id(60),
                    team_name="Almaty Runners",
                    points=53,
                    last_scorer_place=None,
                    entries=(
                        TeamEntryScore(
                            participant_id=ASEL_ID,
                            bib=101,
                            distance="100m",
                            gender="F",
                            place=1,
                            status="OK",
                            points=1,
                            penalty=False,
                        ),
                        TeamEntryScore(
                            participant_id=_id(4),
                            bib=130,
                            distance="100m",
                            gender="F",
                            place=None,
                            status="DNS",
                            points=52,
                            penalty=True,
                        ),
                    ),
                ),
            ),
        ),
        RelayStandingsUpdated(
            edition="2024",
            status="official",
            revision=2,
            standings=(
                RelayStanding(
                    place=1,
                    relay_team_id=TEAM_ID,
                    team_name="Qulpynay Bakery",
                    bib=5007,
                    status="OK",
                    official_time_us=(3 * 60 + 58) * S + 120_000,
                    prize_kzt=200_000,
                ),
            ),
        ),
        DeliverySent(
            delivery_id=DELIVERY_ID,
            template="participant.paid",
            trigger_event_id=_id(70),
            trigger_event_type="participant.paid",
            participant_id=ASEL_ID,
            attempt=2,
            sent_at=_at(1, 20, 9, 14),
            smtp_message_id="<42@copa.example.kz>",
        ),
        DeliveryFailed(
            delivery_id=DELIVERY_ID,
            template="participant.paid",
            trigger_event_id=_id(70),
            trigger_event_type="participant.paid",
            participant_id=ASEL_ID,
            attempt=1,
            failed_at=_at(1, 20, 9, 12, 30),
            error="421 4.7.0 Try again later",
            next_attempt_at=_at(1, 20, 9, 14),
        ),
        DeliveryGaveUp(
            delivery_id=_id(43),
            template="participant.hold-expired",
            trigger_event_id=_id(71),
            trigger_event_type="participant.hold-expired",
            participant_id=DMITRY_ID,
            attempt=1,
            gave_up_at=_at(1, 21, 12, 1),
            error="550 5.1.1 User unknown",
        ),
    )


def example_envelope(event: Event) -> Envelope:
    """``event`` in the envelope its topic gives it, with a fixed id and instant."""
    topic = topic_of(event)
    event_id = (
        chip_read_event_id(event.device_id, event.device_sequence, event.chip, event.read_at)
        if isinstance(event, ChipRead)
        else uuid.uuid5(uuid.NAMESPACE_URL, f"urn:copa-run:example:{event.event_type}")
    )
    return topic.wrap(
        event,
        correlation_id="example",
        event_id=event_id,
        occurred_at=_at(3, 17, 3, 30),
    )


__all__ = ["example_envelope", "example_events"]
