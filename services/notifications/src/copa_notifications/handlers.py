"""What notifications does with each event it consumes: keep its projection, record e-mails.

Every handler runs inside the batch consumer's unit of work, so the projection update, the
rendered deliveries and the tracking record of the event commit together or not at all
(ARCHITECTURE.md, "Idempotent consumers"). Sending happens later, in the sender loop.

Participant events carry the person's contact (e-mail, language, name). Ranking and teams
events carry participant ids and BIBs only (RULES §10), so those are resolved against the
``recipients`` projection kept from participant events; a runner not (yet) in it is skipped.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from copa_contracts.envelope import Envelope, Event
from copa_contracts.participants import (
    ApplicationReceived,
    ApplicationRefused,
    CategoryChanged,
    DistanceChanged,
    EditionPostponed,
    FreeSlotGranted,
    FreeSlotRefused,
    HoldExpired,
    KitIssued,
    ParticipantBanned,
    ParticipantEvent,
    ParticipantPaid,
    QualificationAccepted,
    QualificationRefused,
    RelayLegOrderChanged,
    RelayTeamEvent,
    RelayTeamKitIssued,
    RelayTeamRegistered,
)
from copa_contracts.ranking import (
    ProtestAnswered,
    ProtestReceived,
    RaceResultEntry,
    RaceResultsCorrected,
    RaceResultsEvent,
    RaceResultsOfficial,
    RaceResultsProvisional,
    StandingsUpdated,
    StartListPublished,
)
from copa_contracts.teams import TeamStandingsUpdated
from copa_notifications import editions
from copa_notifications.deliveries import Addressee, Mail, record
from copa_notifications.models import (
    EditionDate,
    Recipient,
    RelayCaptain,
    ResultNotice,
    StandingsPlace,
    StartNotice,
    TeamNotice,
)
from copa_runtime.consumer import Handler

recipients = Recipient.__table__  # type: ignore[attr-defined]
relay_captains = RelayCaptain.__table__  # type: ignore[attr-defined]
start_notices = StartNotice.__table__  # type: ignore[attr-defined]
result_notices = ResultNotice.__table__  # type: ignore[attr-defined]
standings_places = StandingsPlace.__table__  # type: ignore[attr-defined]
team_notices = TeamNotice.__table__  # type: ignore[attr-defined]
edition_dates = EditionDate.__table__  # type: ignore[attr-defined]


async def _send(
    session: AsyncSession,
    envelope: Envelope,
    edition: str,
    mails: Iterable[Mail],
) -> list[uuid.UUID]:
    return await record(
        session,
        editions.renderer(edition),
        mails,
        event_id=envelope.event_id,
        kind="event",
        trigger_event_type=envelope.type,
        now=datetime.now(UTC),
    )


def _to(event: ParticipantEvent) -> Addressee:
    return Addressee.of(event.contact, event.participant_id)


# --- the projection ---------------------------------------------------------------------------


async def _remember(
    session: AsyncSession, event: ParticipantEvent, *, status: str | None = None, **fields: Any
) -> None:
    """Upsert the participant's contact (the newest event's contact wins) and ``fields``."""
    contact = event.contact
    values: dict[str, Any] = {
        "participant_id": event.participant_id,
        "edition": event.edition,
        "registration_number": event.registration_number,
        "email": contact.email,
        "language": contact.language,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        **fields,
    }
    update = {k: v for k, v in values.items() if k != "participant_id"}
    update["updated_at"] = func.now()
    if status is not None:
        update["status"] = status
    await session.execute(
        insert(recipients)
        .values(**values, status=status or "applied")
        .on_conflict_do_update(index_elements=["participant_id"], set_=update)
    )


async def _known(session: AsyncSession, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Addressee]:
    """Addressees of participants and of relay teams (their captains) among ``ids``."""
    wanted = list(set(ids))
    if not wanted:
        return {}
    found: dict[uuid.UUID, Addressee] = {}
    for row in (
        await session.execute(select(recipients).where(recipients.c.participant_id.in_(wanted)))
    ).all():
        found[row.participant_id] = _addressee(row)
    for row in (
        await session.execute(
            select(relay_captains).where(relay_captains.c.relay_team_id.in_(wanted))
        )
    ).all():
        found[row.relay_team_id] = Addressee(
            email=row.email,
            language=row.language,
            first_name=row.first_name,
            last_name=row.last_name,
            relay_team_id=row.relay_team_id,
        )
    return found


def _addressee(row: Any) -> Addressee:
    return Addressee(
        email=row.email,
        language=row.language,
        first_name=row.first_name,
        last_name=row.last_name,
        participant_id=row.participant_id,
    )


def _competitor(entry: Any) -> uuid.UUID:
    competitor: uuid.UUID = entry.participant_id or entry.relay_team_id
    return competitor


# --- registration's events (reg 7, 8, 16) -----------------------------------------------------


async def on_application_received(
    session: AsyncSession, event: ApplicationReceived, envelope: Envelope
) -> None:
    """Registration ID, how to pay and until when the slot is held (reg 7.3, RULES §3); or,
    when nothing is held yet, why: the qualification check (4.2.3) or the company's transfer
    (7.2)."""
    await _remember(
        session,
        event,
        status="applied",
        distance=event.distance,
        gender=event.gender,
        age_category=event.age_category,
    )
    context = {
        "registration_number": event.registration_number,
        "distance": event.distance,
        "fee_kzt": event.fee_kzt,
        "hold_expires_at": event.hold_expires_at,
        "qualification_required": event.qualification_required,
        "awaiting": _awaiting(event),
    }
    await _send(
        session, envelope, event.edition, [Mail(_to(event), "application-received", context)]
    )


def _awaiting(event: ApplicationReceived) -> str | None:
    """Why no slot is held; events from before ``awaiting`` existed say it by the distance."""
    if event.awaiting is not None or event.hold_expires_at is not None:
        return event.awaiting
    return "qualification_check" if event.qualification_required else "company_transfer"


async def on_paid(session: AsyncSession, event: ParticipantPaid, envelope: Envelope) -> None:
    """Payment confirmed with the BIB (reg 7.3, 7.8)."""
    await _remember(
        session,
        event,
        status="paid",
        distance=event.distance,
        gender=event.gender,
        age_category=event.age_category,
        bib=event.bib,
    )
    context = {
        "bib": event.bib,
        "distance": event.distance,
        "age_category": event.age_category,
        "amount_kzt": event.amount_kzt,
        "payment_method": event.payment_method,
    }
    await _send(session, envelope, event.edition, [Mail(_to(event), "participant-paid", context)])


async def on_hold_expired(session: AsyncSession, event: HoldExpired, envelope: Envelope) -> None:
    """The unpaid slot went back to the pool (RULES §3)."""
    await _remember(session, event, status="expired")
    context = {
        "registration_number": event.registration_number,
        "distance": event.distance,
        "expired_at": event.expired_at,
    }
    await _send(session, envelope, event.edition, [Mail(_to(event), "hold-expired", context)])


async def on_refused(session: AsyncSession, event: ApplicationRefused, envelope: Envelope) -> None:
    """Why the application was refused, with the clause applied (reg 7.1, 7.6, 5.1, 7.11)."""
    await _remember(session, event, status="refused")
    context = {
        "registration_number": event.registration_number,
        "reason": event.reason,
        "clause": event.clause,
        "detail": event.detail,
        "minimum_age": editions.edition(event.edition).minimum_age,
    }
    await _send(
        session, envelope, event.edition, [Mail(_to(event), "application-refused", context)]
    )


async def on_distance_changed(
    session: AsyncSession, event: DistanceChanged, envelope: Envelope
) -> None:
    """New BIB and what was charged (reg 7.6)."""
    await _remember(
        session,
        event,
        distance=event.to_distance,
        age_category=event.age_category,
        bib=event.new_bib,
    )
    context = {
        "from_distance": event.from_distance,
        "to_distance": event.to_distance,
        "age_category": event.age_category,
        "old_bib": event.old_bib,
        "new_bib": event.new_bib,
        "change_fee_kzt": event.change_fee_kzt,
        "fee_difference_kzt": event.fee_difference_kzt,
    }
    await _send(session, envelope, event.edition, [Mail(_to(event), "distance-changed", context)])


async def on_category_changed(
    session: AsyncSession, event: CategoryChanged, envelope: Envelope
) -> None:
    """Kept for the audience of announcements; no e-mail of its own."""
    await _remember(session, event, age_category=event.to_category)


async def on_free_slot_granted(
    session: AsyncSession, event: FreeSlotGranted, envelope: Envelope
) -> None:
    """Reg 7.13."""
    await _remember(session, event, distance=event.distance)
    context = {"distance": event.distance}
    await _send(session, envelope, event.edition, [Mail(_to(event), "free-slot-granted", context)])


async def on_free_slot_refused(
    session: AsyncSession, event: FreeSlotRefused, envelope: Envelope
) -> None:
    """Reg 7.13: the pool is limited and closes on a date."""
    await _remember(session, event)
    rules = editions.edition(event.edition).registration
    context = {"reason": event.reason, "free_slot_deadline": rules.free_slot_applications_before}
    await _send(session, envelope, event.edition, [Mail(_to(event), "free-slot-refused", context)])


async def on_qualification_accepted(
    session: AsyncSession, event: QualificationAccepted, envelope: Envelope
) -> None:
    """Reg 4.2.3 (3000 m): the slot is now held, and the fee is due until the hold expires."""
    await _remember(session, event)
    context = {
        "registration_number": event.registration_number,
        "hold_expires_at": event.hold_expires_at,
        "distance": event.distance,
        "result_time_us": event.result_time_us,
        "qualifying_time_us": event.qualifying_time_us,
        "result_date": event.result_date,
    }
    await _send(
        session, envelope, event.edition, [Mail(_to(event), "qualification-accepted", context)]
    )


async def on_qualification_refused(
    session: AsyncSession, event: QualificationRefused, envelope: Envelope
) -> None:
    """Reg 4.2.3: which condition failed; the applicant may submit another result."""
    await _remember(session, event)
    rules = editions.edition(event.edition).registration
    context = {
        "distance": event.distance,
        "reason": event.reason,
        "result_time_us": event.result_time_us,
        "qualifying_time_us": event.qualifying_time_us,
        "lookback_years": rules.qualification_lookback_years,
    }
    await _send(
        session, envelope, event.edition, [Mail(_to(event), "qualification-refused", context)]
    )


async def on_kit_issued(session: AsyncSession, event: KitIssued, envelope: Envelope) -> None:
    """Reg 8.2, 8.5."""
    await _remember(session, event, bib=event.bib)
    context = {
        "bib": event.bib,
        "issued_at": event.issued_at,
        "collected_by_proxy": event.collected_by_proxy,
    }
    await _send(session, envelope, event.edition, [Mail(_to(event), "kit-issued", context)])


async def on_banned(session: AsyncSession, event: ParticipantBanned, envelope: Envelope) -> None:
    """Reg 7.11: the clause and how many editions; the recorded reason stays internal."""
    await _remember(session, event, status="banned")
    context = {"clause": event.clause, "editions_banned": event.editions_banned}
    await _send(session, envelope, event.edition, [Mail(_to(event), "participant-banned", context)])


async def _remember_captain(session: AsyncSession, event: RelayTeamEvent, **fields: Any) -> None:
    contact = event.contact
    values = {
        "edition": event.edition,
        "team_name": event.team_name,
        "email": contact.email,
        "language": contact.language,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        **fields,
    }
    if "bib" not in fields:  # a team is known from its registration, which has the BIB
        await session.execute(
            relay_captains.update()
            .where(relay_captains.c.relay_team_id == event.relay_team_id)
            .values(**values)
        )
        return
    await session.execute(
        insert(relay_captains)
        .values(relay_team_id=event.relay_team_id, **values)
        .on_conflict_do_update(index_elements=["relay_team_id"], set_=values)
    )


async def on_relay_changed(
    session: AsyncSession, event: RelayTeamEvent, envelope: Envelope
) -> None:
    """Leg order changes and kits keep the captain's contact current; no e-mail of their own."""
    await _remember_captain(session, event)


async def on_relay_team_registered(
    session: AsyncSession, event: RelayTeamRegistered, envelope: Envelope
) -> None:
    """To the team's captain: the team's own entry (RULES §8)."""
    await _remember_captain(session, event, bib=event.bib)
    context = {
        "team_name": event.team_name,
        "bib": event.bib,
        "amount_kzt": event.amount_kzt,
        "members": [member.model_dump() for member in event.members],
    }
    captain = replace(Addressee.of(event.contact), relay_team_id=event.relay_team_id)
    mail = Mail(captain, "relay-team-registered", context)
    await _send(session, envelope, event.edition, [mail])


async def on_edition_postponed(
    session: AsyncSession, event: EditionPostponed, envelope: Envelope
) -> None:
    """Reg 16.1: every participant is told (applicants holding or paid), each in their language,
    and every relay team's captain for the team (RULES §8). Relay runners have no contact of
    their own in registration's events, so their captain is asked to tell them; a captain who
    is also entered alone gets one message that says both."""
    await session.execute(
        insert(edition_dates)
        .values(edition=event.edition, competition_date=event.new_date)
        .on_conflict_do_update(
            index_elements=["edition"], set_={"competition_date": event.new_date}
        )
    )
    rows = (
        await session.execute(
            select(recipients).where(
                recipients.c.edition == event.edition,
                recipients.c.status.in_(("applied", "paid")),
            )
        )
    ).all()
    captains = (
        await session.execute(
            select(relay_captains)
            .where(relay_captains.c.edition == event.edition)
            .order_by(relay_captains.c.team_name)
        )
    ).all()
    context = {
        "previous_date": event.previous_date,
        "new_date": event.new_date,
        "reason": event.reason,
    }
    people = [_addressee(row) for row in rows]
    teams: dict[Addressee, list[str]] = {person: [] for person in people}
    by_email = {person.email.lower(): person for person in reversed(people)}
    for row in captains:
        person = by_email.get(row.email.lower())
        if person is None:
            person = Addressee(
                email=row.email,
                language=row.language,
                first_name=row.first_name,
                last_name=row.last_name,
                relay_team_id=row.relay_team_id,
            )
            by_email[row.email.lower()] = person
            teams[person] = []
        teams[person].append(row.team_name)
    mails = [
        Mail(person, "edition-postponed", {**context, "team_names": names})
        for person, names in teams.items()
    ]
    await _send(session, envelope, event.edition, mails)


# --- ranking's events (reg 11, 17) ------------------------------------------------------------


async def on_start_list(
    session: AsyncSession, event: StartListPublished, envelope: Envelope
) -> None:
    """Race, heat, lane and start time once drawn, and again only for whom it changed."""
    known = await _known(session, (_competitor(e) for e in event.entries))
    if not known:
        return
    told = {
        row.participant_id: row
        for row in (
            await session.execute(
                select(start_notices).where(
                    start_notices.c.race_id == event.race_id,
                    start_notices.c.participant_id.in_(list(known)),
                )
            )
        ).all()
    }
    mails: list[Mail] = []
    for entry in event.entries:
        competitor = _competitor(entry)
        person = known.get(competitor)
        if person is None:
            continue
        now_told = (event.race_number, event.heat_number, entry.lane, event.scheduled_start_at)
        before = told.get(competitor)
        if before is not None:
            if before.revision >= event.revision:
                continue  # an older or the same list arriving late
            if (
                before.race_number,
                before.heat_number,
                before.lane,
                before.scheduled_start_at,
            ) == now_told:
                continue  # nothing changed for this runner
        values = {
            "race_number": event.race_number,
            "heat_number": event.heat_number,
            "lane": entry.lane,
            "scheduled_start_at": event.scheduled_start_at,
            "revision": event.revision,
        }
        await session.execute(
            insert(start_notices)
            .values(participant_id=competitor, race_id=event.race_id, **values)
            .on_conflict_do_update(index_elements=["participant_id", "race_id"], set_=values)
        )
        context = {
            "changed": before is not None,
            "race_number": event.race_number,
            "round": event.round,
            "heat_number": event.heat_number,
            "races_in_round": event.races_in_round,
            "lane": entry.lane,
            "scheduled_start_at": event.scheduled_start_at,
            "bib": entry.bib,
            "distance": event.distance,
            "age_category": event.age_category,
        }
        mails.append(Mail(person, "start-list", context))
    await _send(session, envelope, event.edition, mails)


def _fingerprint(entry: RaceResultEntry) -> str:
    return (
        f"{entry.status}|{entry.place}|{entry.official_time_us}|{entry.dq_rule}|{entry.qualified}"
    )


async def _on_results(
    session: AsyncSession, event: RaceResultsEvent, envelope: Envelope, stage: str
) -> None:
    """Provisional once, official once, and a correction to whom the result changed."""
    known = await _known(session, (_competitor(e) for e in event.entries))
    if not known:
        return
    ids = list(known)
    told = {
        row.participant_id: row
        for row in (
            await session.execute(
                select(result_notices).where(
                    result_notices.c.race_id == event.race_id,
                    result_notices.c.participant_id.in_(ids),
                )
            )
        ).all()
    }
    places: dict[tuple[uuid.UUID, str], int | None] = {
        (row.participant_id, row.scope): row.place
        for row in (
            await session.execute(
                select(standings_places).where(standings_places.c.participant_id.in_(ids))
            )
        ).all()
    }
    mails: list[Mail] = []
    for entry in event.entries:
        competitor = _competitor(entry)
        person = known.get(competitor)
        if person is None:
            continue
        fingerprint = _fingerprint(entry)
        before = told.get(competitor)
        template = _result_template(stage, before, fingerprint)
        if template is None:
            continue
        values = {"stage": stage, "fingerprint": fingerprint}
        await session.execute(
            insert(result_notices)
            .values(participant_id=competitor, race_id=event.race_id, **values)
            .on_conflict_do_update(index_elements=["participant_id", "race_id"], set_=values)
        )
        context = {
            "entry": entry.model_dump(),
            "distance": event.distance,
            "gender": event.gender,
            "age_category": event.age_category,
            "round": event.round,
            "heat_number": event.heat_number,
            "category_place": places.get((competitor, "category")),
            "gender_place": places.get((competitor, "gender")),
        }
        mails.append(Mail(person, template, context))
    await _send(session, envelope, event.edition, mails)


def _result_template(stage: str, before: Any, fingerprint: str) -> str | None:
    if before is None:
        return f"result-{stage}"
    if stage == "provisional":
        return None  # told once; judges' changes show in the official result (reg 11.1)
    if before.stage == "provisional" and stage == "official":
        return "result-official"
    if before.fingerprint != fingerprint:
        return "result-corrected"
    return None


async def on_results_provisional(
    session: AsyncSession, event: RaceResultsProvisional, envelope: Envelope
) -> None:
    await _on_results(session, event, envelope, "provisional")


async def on_results_official(
    session: AsyncSession, event: RaceResultsOfficial, envelope: Envelope
) -> None:
    await _on_results(session, event, envelope, "official")


async def on_results_corrected(
    session: AsyncSession, event: RaceResultsCorrected, envelope: Envelope
) -> None:
    await _on_results(session, event, envelope, "corrected")


async def on_standings(session: AsyncSession, event: StandingsUpdated, envelope: Envelope) -> None:
    """Places in category and among men / women, for the result e-mails (reg 11.1-11.3)."""
    scope = "category" if event.age_category is not None else "gender"
    for entry in event.entries:
        values = {
            "standings_id": event.standings_id,
            "place": entry.place,
            "revision": event.revision,
        }
        await session.execute(
            insert(standings_places)
            .values(participant_id=entry.participant_id, scope=scope, **values)
            .on_conflict_do_update(
                index_elements=["participant_id", "scope"],
                set_=values,
                where=standings_places.c.revision <= event.revision,
            )
        )


async def on_protest_received(
    session: AsyncSession, event: ProtestReceived, envelope: Envelope
) -> None:
    """Reg 17.3: the answer is due within 24 h; the protester's own claim is repeated."""
    context = {
        "received_at": event.received_at,
        "answer_due_at": event.answer_due_at,
        "claim": event.claim,
    }
    mail = Mail(Addressee.of(event.contact, event.participant_id), "protest-received", context)
    await _send(session, envelope, event.edition, [mail])


async def on_protest_answered(
    session: AsyncSession, event: ProtestAnswered, envelope: Envelope
) -> None:
    """Reg 17.3: the answer goes to the address the protest came from."""
    edition = await _edition_of(session, event.participant_id)
    context = {"decision": event.decision, "answer": event.answer}
    mail = Mail(Addressee.of(event.contact, event.participant_id), "protest-answered", context)
    await _send(session, envelope, edition, [mail])


async def _edition_of(session: AsyncSession, participant_id: uuid.UUID) -> str:
    edition = await session.scalar(
        select(recipients.c.edition).where(recipients.c.participant_id == participant_id)
    )
    return str(edition) if edition is not None else editions.default_edition()


# --- teams' events (reg 4.2.4) ----------------------------------------------------------------


async def on_team_standings(
    session: AsyncSession, event: TeamStandingsUpdated, envelope: Envelope
) -> None:
    """Team members hear their team's official place, and again if it changes."""
    if event.status != "official":
        return
    members = [
        (standing, entry)
        for standing in event.standings
        for entry in standing.entries
        if entry.participant_id is not None
    ]
    known = await _known(
        session, (entry.participant_id for _, entry in members if entry.participant_id)
    )
    if not known:
        return
    told = {
        row.participant_id: row.fingerprint
        for row in (
            await session.execute(
                select(team_notices).where(
                    team_notices.c.classification == event.classification,
                    team_notices.c.participant_id.in_(list(known)),
                )
            )
        ).all()
    }
    names = {c.code: c.name for c in editions.edition(event.edition).teams.classifications}
    mails: list[Mail] = []
    for standing, entry in members:
        assert entry.participant_id is not None
        person = known.get(entry.participant_id)
        if person is None:
            continue
        fingerprint = f"{standing.team_id}|{standing.place}|{standing.points}|{entry.points}"
        if told.get(entry.participant_id) == fingerprint:
            continue
        await session.execute(
            insert(team_notices)
            .values(
                participant_id=entry.participant_id,
                classification=event.classification,
                fingerprint=fingerprint,
            )
            .on_conflict_do_update(
                index_elements=["participant_id", "classification"],
                set_={"fingerprint": fingerprint},
            )
        )
        context = {
            "classification_name": names.get(event.classification, event.classification),
            "team_name": standing.team_name,
            "team_place": standing.place if standing.place is not None else "-",
            "team_points": standing.points,
            "own_points": entry.points,
        }
        mails.append(Mail(person, "team-standings", context))
    await _send(session, envelope, event.edition, mails)


HANDLERS: Mapping[type[Event], Handler] = {
    ApplicationReceived: on_application_received,
    ParticipantPaid: on_paid,
    HoldExpired: on_hold_expired,
    ApplicationRefused: on_refused,
    DistanceChanged: on_distance_changed,
    CategoryChanged: on_category_changed,
    FreeSlotGranted: on_free_slot_granted,
    FreeSlotRefused: on_free_slot_refused,
    QualificationAccepted: on_qualification_accepted,
    QualificationRefused: on_qualification_refused,
    KitIssued: on_kit_issued,
    ParticipantBanned: on_banned,
    RelayTeamRegistered: on_relay_team_registered,
    RelayLegOrderChanged: on_relay_changed,
    RelayTeamKitIssued: on_relay_changed,
    EditionPostponed: on_edition_postponed,
    StartListPublished: on_start_list,
    RaceResultsProvisional: on_results_provisional,
    RaceResultsOfficial: on_results_official,
    RaceResultsCorrected: on_results_corrected,
    StandingsUpdated: on_standings,
    ProtestReceived: on_protest_received,
    ProtestAnswered: on_protest_answered,
    TeamStandingsUpdated: on_team_standings,
}
