"""Organizer functions (role `organizer`): counts, export, unmatched payments, qualifications,
bans (7.11), free slots (7.13), postponement (16.1), corporate batches (7.2), the kit desk (8)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy import text

from copa_contracts import topics
from copa_contracts.common import Contact
from copa_contracts.participants import (
    ApplicationRefused,
    CategoryChanged,
    CorporateBatchConfirmed,
    EditionPostponed,
    FreeSlotGranted,
    FreeSlotRefused,
    KitIssued,
    ParticipantBanned,
    QualificationAccepted,
    QualificationRefused,
    RelayMemberChip,
    RelayTeamKitIssued,
)
from copa_registration import capacity, entries, rules
from copa_registration.api import Ctx, Session
from copa_registration.capacity import TOTAL
from copa_registration.rules import Refusal
from copa_registration.schemas import (
    ApplicationCreate,
    BanCreate,
    CorporateBatchConfirm,
    CorporateBatchCreate,
    CorporateEntryIn,
    Decision,
    FreeSlotRefusal,
    KitIssue,
    Postponement,
    QualificationRefusal,
    RelayKitIssue,
    UnmatchedResolution,
)
from copa_runtime.auth import Principal, Role, require_roles
from copa_runtime.problems import Problem

Organizer = Annotated[Principal, Depends(require_roles(Role.ORGANIZER))]

router = APIRouter(prefix="/organizer", tags=["organizer"])


def actor(who: Principal) -> str:
    return who.subject


# --- counts and export -----------------------------------------------------------------------


@router.get("/counts", summary="Entries per distance, gender and category, and the limits")
async def counts(session: Session, ctx: Ctx, who: Organizer) -> dict[str, Any]:
    rows = (
        await session.execute(
            text(
                """SELECT distance, gender, age_category, status, count(*) AS n
                FROM applications WHERE status IN ('held', 'paid', 'awaiting_qualification',
                'listed') GROUP BY distance, gender, age_category, status
                ORDER BY distance, gender, age_category, status"""
            )
        )
    ).all()
    return {
        "capacity": await capacity.counts(session),
        "groups": [
            {
                "distance": r.distance,
                "gender": r.gender,
                "age_category": r.age_category,
                "status": r.status,
                "count": r.n,
            }
            for r in rows
        ],
    }


EXPORT_COLUMNS = (
    "registration_number",
    "bib",
    "distance",
    "gender",
    "age_category",
    "first_name",
    "last_name",
    "birth_date",
    "email",
    "phone",
    "language",
    "city",
    "club",
    "payment_method",
    "amount_paid_kzt",
    "paid_at",
    "kit_issued_at",
    "kit_chip",
)


@router.get(
    "/participants.csv",
    summary="Participants (paid entries) as CSV, with their contact data",
    response_class=Response,
)
async def export_participants(session: Session, who: Organizer) -> Response:
    rows = (
        await session.execute(
            text(
                f"SELECT {', '.join(EXPORT_COLUMNS)} FROM applications WHERE status = 'paid' "
                "ORDER BY distance, bib"
            )
        )
    ).all()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="participants.csv"'},
    )


# --- unmatched payments (RULES §3, reg 7.7) ----------------------------------------------------


@router.get("/unmatched-payments", summary="Payments that could not be applied")
async def unmatched_payments(
    session: Session, who: Organizer, resolved: bool = False
) -> list[dict[str, Any]]:
    rows = (
        await session.execute(
            text(
                """SELECT provider, transaction_id, reason, amount_kzt, amount_received,
                expected_kzt, registration_number, participant_id, received_at, resolved_at,
                resolved_by, resolution, resolution_note FROM provider_transactions
                WHERE outcome = 'unmatched' AND (resolved_at IS NOT NULL) = :resolved
                ORDER BY received_at"""
            ),
            {"resolved": resolved},
        )
    ).all()
    return [dict(r._mapping) for r in rows]


@router.post(
    "/unmatched-payments/{provider}/{transaction_id}/resolve",
    summary="Resolve an unmatched payment: apply it to an entry, or keep it (reg 7.7)",
)
async def resolve_unmatched(
    provider: str,
    transaction_id: str,
    body: UnmatchedResolution,
    session: Session,
    ctx: Ctx,
    who: Organizer,
) -> dict[str, Any]:
    now = ctx.clock.now()
    tx = (
        await session.execute(
            text(
                """SELECT * FROM provider_transactions WHERE provider = :p AND
                transaction_id = :t FOR UPDATE"""
            ),
            {"p": provider, "t": transaction_id},
        )
    ).first()
    if tx is None or tx.outcome != "unmatched":
        raise Problem(404, "Not Found", "No unmatched payment with that provider transaction.")
    if tx.resolved_at is not None:
        raise Problem(409, "Already resolved", f"Resolved {tx.resolved_at} by {tx.resolved_by}.")
    if body.action == "apply_to_entry":
        if not body.registration_number:
            raise Problem(422, "Registration ID needed", "Name the entry the money is for.")
        row = (
            await session.execute(
                text("SELECT id FROM applications WHERE registration_number = :n"),
                {"n": body.registration_number},
            )
        ).first()
        if row is None:
            raise Problem(404, "Not Found", "No entry with that registration ID.")
        outcome = await entries.pay_entry(session, ctx, row.id, now, "online", tx.amount_kzt or 0)
        await capacity.check_now(session)
        if outcome.result != "applied":
            raise Problem(
                409,
                "Cannot apply",
                f"The entry cannot take this payment: {outcome.reason}.",
                reason=outcome.reason,
            )
    await session.execute(
        text(
            """UPDATE provider_transactions SET resolved_at = :now, resolved_by = :by,
            resolution = :action, resolution_note = :note WHERE provider = :p
            AND transaction_id = :t"""
        ),
        {
            "now": now,
            "by": actor(who),
            "action": body.action,
            "note": body.note,
            "p": provider,
            "t": transaction_id,
        },
    )
    return {"resolved": True, "action": body.action}


# --- qualifications (reg 4.2.3) ---------------------------------------------------------------


@router.get("/qualifications", summary="3000 m applications whose evidence awaits a check")
async def pending_qualifications(session: Session, who: Organizer) -> list[dict[str, Any]]:
    rows = (
        await session.execute(
            text(
                """SELECT id, registration_number, first_name, last_name, gender, age_category,
                distance, qualification, created_at FROM applications
                WHERE qualification_status = 'pending' ORDER BY created_at"""
            )
        )
    ).all()
    return [dict(r._mapping) for r in rows]


def _qualifying_time(ctx: Any, row: Any) -> int:
    distance = ctx.edition.distance(row.distance)
    for category in distance.categories(row.gender):
        if category.code == row.age_category:
            return int(category.qualifying_time_us or 0)
    return 0


@router.post(
    "/qualifications/{application_id}/accept",
    summary="The evidence holds: the slot is held for payment (reg 4.2.3)",
)
async def accept_qualification(
    application_id: uuid.UUID, body: Decision, session: Session, ctx: Ctx, who: Organizer
) -> dict[str, Any]:
    now = ctx.clock.now()
    row = await _pending(session, application_id)
    full = await entries.room_for(session, ctx, [TOTAL, row.distance], now)
    if full is not None:
        refusal = entries.capacity_refusal(full)
        await session.execute(
            text(
                """UPDATE applications SET status = 'refused', qualification_status = 'accepted',
                refusal_reason = :r, refusal_clause = :c, refusal_detail = :d, updated_at = :now
                WHERE id = :id"""
            ),
            {
                "r": refusal.reason,
                "c": refusal.clause,
                "d": refusal.detail,
                "now": now,
                "id": row.id,
            },
        )
        await entries.emit(
            session,
            topics.PARTICIPANTS,
            ApplicationRefused(
                **entries.participant_fields(row),
                reason=refusal.reason,
                clause=refusal.clause,
                detail=refusal.detail,
                refused_at=now,
            ),
        )
        return {"status": "refused", "reason": refusal.reason}
    expires = now + dt.timedelta(minutes=ctx.edition.registration.hold_minutes)
    await session.execute(
        text(
            """UPDATE applications SET status = 'held', qualification_status = 'accepted',
            qualification_note = :note, hold_expires_at = :exp, updated_at = :now WHERE id = :id"""
        ),
        {"note": body.note, "exp": expires, "now": now, "id": row.id},
    )
    await capacity.check_now(session)
    q = row.qualification
    await entries.emit(
        session,
        topics.PARTICIPANTS,
        QualificationAccepted(
            **entries.participant_fields(row),
            distance=row.distance,
            result_time_us=int(q["time_us"]),
            qualifying_time_us=_qualifying_time(ctx, row),
            result_date=dt.date.fromisoformat(q["result_date"]),
            accepted_by=actor(who),
            accepted_at=now,
            hold_expires_at=expires,
        ),
    )
    return {"status": "held", "hold_expires_at": expires}


@router.post(
    "/qualifications/{application_id}/refuse",
    summary="The evidence does not hold (reg 4.2.3); the applicant may apply again",
)
async def refuse_qualification(
    application_id: uuid.UUID,
    body: QualificationRefusal,
    session: Session,
    ctx: Ctx,
    who: Organizer,
) -> dict[str, Any]:
    now = ctx.clock.now()
    row = await _pending(session, application_id)
    await session.execute(
        text(
            """UPDATE applications SET status = 'refused', qualification_status = 'refused',
            refusal_reason = 'qualification_refused', refusal_clause = '4.2.3',
            refusal_detail = :d, updated_at = :now WHERE id = :id"""
        ),
        {"d": body.note or body.reason, "now": now, "id": row.id},
    )
    await entries.emit(
        session,
        topics.PARTICIPANTS,
        QualificationRefused(
            **entries.participant_fields(row),
            distance=row.distance,
            reason=body.reason,
            result_time_us=int(row.qualification["time_us"]) if row.qualification else None,
            qualifying_time_us=_qualifying_time(ctx, row),
            refused_by=actor(who),
            refused_at=now,
        ),
    )
    return {"status": "refused"}


async def _pending(session: Any, application_id: uuid.UUID) -> Any:
    row = await entries.load_application(session, application_id, lock=True)
    if row is None or row.status != "awaiting_qualification":
        raise Problem(404, "Not Found", "No application awaiting a qualification check.")
    return row


# --- bans (reg 7.11) --------------------------------------------------------------------------


@router.post("/bans", status_code=201, summary="Ban a person from the next editions (7.11)")
async def ban(body: BanCreate, session: Session, ctx: Ctx, who: Organizer) -> dict[str, Any]:
    now = ctx.clock.now()
    row = None
    if body.participant_id is not None:
        row = await entries.load_application(session, body.participant_id)
        if row is None:
            raise Problem(404, "Not Found", "No entry with that ID.")
        first, last, born = row.first_name, row.last_name, row.birth_date
    elif body.first_name and body.last_name and body.birth_date:
        first, last, born = body.first_name, body.last_name, body.birth_date
    else:
        raise Problem(422, "Who?", "Give a participant_id, or first and last name and birth date.")
    from_edition = body.from_edition or ctx.edition.code
    editions = ctx.edition.registration.ban_editions
    banned = sorted(rules.banned_editions(from_edition, editions))
    ban_id = uuid.uuid4()
    await session.execute(
        text(
            """INSERT INTO bans (id, person_key, full_name, from_edition, banned_editions, clause,
            reason, participant_id, banned_by, banned_at) VALUES (:id, :p, :name, :from,
            CAST(:editions AS text[]), '7.11', :reason, :participant, :by, :now)"""
        ),
        {
            "id": ban_id,
            "p": rules.person_key(first, last, born),
            "name": f"{first} {last}",
            "from": from_edition,
            "editions": banned,
            "reason": body.reason,
            "participant": row.id if row is not None else None,
            "by": actor(who),
            "now": now,
        },
    )
    if row is not None:
        await entries.emit(
            session,
            topics.PARTICIPANTS,
            ParticipantBanned(
                **entries.participant_fields(row),
                clause="7.11",
                reason=body.reason,
                editions_banned=editions,
                banned_by=actor(who),
                banned_at=now,
            ),
        )
    return {"ban_id": ban_id, "banned_editions": banned}


@router.get("/bans", summary="Bans recorded (7.11)")
async def bans(session: Session, who: Organizer) -> list[dict[str, Any]]:
    rows = (
        await session.execute(
            text(
                """SELECT id, full_name, from_edition, banned_editions, clause, reason,
                participant_id, banned_by, banned_at FROM bans ORDER BY banned_at"""
            )
        )
    ).all()
    return [dict(r._mapping) for r in rows]


# --- postponement (reg 16.1) ------------------------------------------------------------------


@router.post("/edition/postpone", summary="Move the competition to a new date (16.1)")
async def postpone(
    body: Postponement, session: Session, ctx: Ctx, who: Organizer
) -> dict[str, Any]:
    now = ctx.clock.now()
    edition = ctx.edition
    previous = await entries.competition_date(session, edition)
    if body.new_date <= previous:
        raise Problem(422, "Not a postponement", f"The new date must be after {previous}.")
    await session.execute(
        text(
            """UPDATE edition_state SET competition_date = :d, postponed_at = :now,
            postponed_by = :by, reason = :reason WHERE edition = :e"""
        ),
        {
            "d": body.new_date,
            "now": now,
            "by": actor(who),
            "reason": body.reason,
            "e": edition.code,
        },
    )
    await entries.emit(
        session,
        topics.EDITIONS,
        EditionPostponed(
            edition=edition.code,
            previous_date=previous,
            new_date=body.new_date,
            reason=body.reason,
            announced_by=actor(who),
            announced_at=now,
        ),
    )
    # reg 5.2: age counts on the (new) competition date; entries move with the date (16.1).
    changed = 0
    rows = (
        await session.execute(
            text(
                """SELECT * FROM applications WHERE status IN ('held', 'paid',
                'awaiting_qualification', 'listed') FOR UPDATE"""
            )
        )
    ).all()
    for row in rows:
        distance = edition.distance(row.distance)
        try:
            category = rules.age_category(
                edition, distance, row.gender, row.birth_date, body.new_date
            )
        except Refusal:
            continue
        if category.code != row.age_category:
            changed += 1
            await session.execute(
                text("UPDATE applications SET age_category = :c WHERE id = :id"),
                {"c": category.code, "id": row.id},
            )
            await entries.emit(
                session,
                topics.PARTICIPANTS,
                CategoryChanged(
                    **entries.participant_fields(row),
                    distance=row.distance,
                    from_category=row.age_category,
                    to_category=category.code,
                    reason="edition_postponed",
                    changed_at=now,
                ),
            )
    return {"previous_date": previous, "new_date": body.new_date, "categories_changed": changed}


# --- free slots (reg 7.13) --------------------------------------------------------------------


@router.get("/free-slots", summary="Free-slot requests (7.13) and the pool")
async def free_slot_requests(session: Session, who: Organizer) -> dict[str, Any]:
    rows = (
        await session.execute(
            text(
                """SELECT id, registration_number, first_name, last_name, distance, status,
                free_slot_status, free_slot_documents, free_slot_requested_at FROM applications
                WHERE free_slot_status IS NOT NULL ORDER BY free_slot_requested_at"""
            )
        )
    ).all()
    pool = (await capacity.counts(session)).get(capacity.FREE_POOL, {"limit": 0, "taken": 0})
    return {
        "pool": {"limit": pool["limit"], "granted": pool["taken"]},
        "requests": [dict(r._mapping) for r in rows],
    }


@router.post(
    "/free-slots/{application_id}/grant",
    summary="Grant a free slot from the pool (7.13); refused automatically when it is empty",
)
async def grant_free_slot(
    application_id: uuid.UUID, session: Session, ctx: Ctx, who: Organizer
) -> dict[str, Any]:
    now = ctx.clock.now()
    row = await _free_slot_request(session, application_id)
    pool = (await capacity.counts(session))[capacity.FREE_POOL]
    if pool["taken"] >= pool["limit"]:
        return await _refuse_free_slot(session, row, "pool_exhausted", who, now)
    await session.execute(
        text(
            "UPDATE applications SET free_slot_status = 'granted', updated_at = :now WHERE id = :id"
        ),
        {"now": now, "id": row.id},
    )
    # The pool is checked again at commit by the capacity trigger (scope free_pool).
    await entries.emit(
        session,
        topics.PARTICIPANTS,
        FreeSlotGranted(
            **entries.participant_fields(row),
            distance=row.distance,
            granted_by=actor(who),
            granted_at=now,
            pool_remaining=max(0, pool["limit"] - pool["taken"] - 1),
        ),
    )
    if row.status != "paid":
        # reg 7.7: what was paid stays paid; an unpaid entry becomes a participant for free.
        outcome = await entries.pay_entry(session, ctx, row.id, now, "free_slot", 0)
        if outcome.result != "applied":
            raise Problem(409, "No slot", f"The entry cannot take a slot: {outcome.reason}.")
    await capacity.check_now(session)
    return {"granted": True, "pool_remaining": max(0, pool["limit"] - pool["taken"] - 1)}


@router.post("/free-slots/{application_id}/refuse", summary="Refuse a free slot (7.13)")
async def refuse_free_slot(
    application_id: uuid.UUID,
    body: FreeSlotRefusal,
    session: Session,
    ctx: Ctx,
    who: Organizer,
) -> dict[str, Any]:
    row = await _free_slot_request(session, application_id)
    return await _refuse_free_slot(session, row, body.reason, who, ctx.clock.now())


async def _free_slot_request(session: Any, application_id: uuid.UUID) -> Any:
    row = await entries.load_application(session, application_id, lock=True)
    if row is None or row.free_slot_status != "requested":
        raise Problem(404, "Not Found", "No open free-slot request for that entry.")
    return row


async def _refuse_free_slot(
    session: Any, row: Any, reason: str, who: Principal, now: dt.datetime
) -> dict[str, Any]:
    await session.execute(
        text(
            "UPDATE applications SET free_slot_status = 'refused', updated_at = :now WHERE id = :id"
        ),
        {"now": now, "id": row.id},
    )
    await entries.emit(
        session,
        topics.PARTICIPANTS,
        FreeSlotRefused(
            **entries.participant_fields(row),
            reason=reason,
            refused_by=actor(who),
            refused_at=now,
        ),
    )
    return {"granted": False, "reason": reason}


# --- corporate batches (reg 7.2) --------------------------------------------------------------


@router.post(
    "/corporate-batches",
    status_code=201,
    summary="Register a company's list (more than 30 people; JSON, or CSV with company, "
    "contact_* query parameters) and get the invoice total",
)
async def corporate_batch(
    request: Request, session: Session, ctx: Ctx, who: Organizer
) -> dict[str, Any]:
    batch = await _read_batch(request)
    edition = ctx.edition
    now = ctx.clock.now()
    minimum = edition.registration.corporate_min_participants
    if len(batch.entries) < minimum:
        raise Problem(
            422,
            "Too few for a corporate batch",
            f"A corporate batch has more than {minimum - 1} people (reg 7.2); companies of "
            f"{minimum - 1} or fewer register their people one by one.",
            clause="7.2",
        )
    batch_id = uuid.uuid4()
    refused: list[dict[str, Any]] = []
    listed: list[Any] = []
    on = await entries.competition_date(session, edition)
    total = 0
    for index, entry in enumerate(batch.entries):
        distance = entries.distance_of(edition, entry.distance)
        body = ApplicationCreate(**entry.model_dump())
        _token, values = entries._values(ctx, body, now, distance)
        values.update(status="listed", corporate_batch_id=batch_id)
        try:
            rules.check_window(edition, now)
            category = rules.age_category(edition, distance, entry.gender, entry.birth_date, on)
            values["age_category"] = category.code
            if distance.qualification_required:
                raise Refusal("qualification_refused", "4.2.3", "3000 m entries apply one by one.")
            if await entries.is_banned(session, values["person_key"], edition.code):
                raise Refusal("banned", "7.11", "Banned after a BIB transfer.")
        except Refusal as refusal:
            refused.append(
                {
                    "line": index + 1,
                    "reason": refusal.reason,
                    "clause": refusal.clause,
                    "detail": refusal.detail,
                }
            )
            continue
        row = (await session.execute(entries._INSERT_APPLICATION, values)).first()
        if row is None:
            refused.append(
                {
                    "line": index + 1,
                    "reason": "duplicate",
                    "clause": "7.3",
                    "detail": "Already entered for this distance.",
                }
            )
            continue
        listed.append(row)
        total += distance.fee_kzt
    if refused:
        raise Problem(
            422, "Some entries cannot be registered", "Fix or remove them.", refused=refused
        )
    await session.execute(
        text(
            """INSERT INTO corporate_batches (id, edition, company_name, contact,
            invoice_total_kzt, status, created_by, created_at) VALUES (:id, :e, :name,
            CAST(:contact AS jsonb), :total, 'awaiting_transfer', :by, :now)"""
        ),
        {
            "id": batch_id,
            "e": edition.code,
            "name": batch.company_name,
            "contact": batch.contact.model_dump_json(),
            "total": total,
            "by": actor(who),
            "now": now,
        },
    )
    return {
        "corporate_batch_id": batch_id,
        "entries": len(listed),
        "invoice_total_kzt": total,
        "registration_numbers": [r.registration_number for r in listed],
    }


async def _read_batch(request: Request) -> CorporateBatchCreate:
    raw = await request.body()
    try:
        if "csv" in request.headers.get("content-type", ""):
            params = request.query_params
            reader = csv.DictReader(io.StringIO(raw.decode("utf-8-sig")))
            entries_in = [
                CorporateEntryIn(**{k: v for k, v in line.items() if v not in (None, "")})
                for line in reader
            ]
            return CorporateBatchCreate(
                company_name=params.get("company", ""),
                contact={
                    "first_name": params.get("contact_first_name", ""),
                    "last_name": params.get("contact_last_name", ""),
                    "email": params.get("contact_email", ""),
                    "language": params.get("contact_language", "ru"),
                },
                entries=entries_in,
            )
        return CorporateBatchCreate.model_validate_json(raw)
    except ValidationError as exc:
        raise Problem(
            422,
            "Invalid batch",
            "The list does not match the schema; see `errors`.",
            errors=json.loads(exc.json(include_url=False)),
        ) from exc
    except UnicodeDecodeError as exc:
        raise Problem(422, "Invalid batch", "The CSV must be UTF-8.") from exc


@router.post(
    "/corporate-batches/{batch_id}/confirm",
    summary="The company's bank transfer arrived: every entry of the batch is paid (7.2)",
)
async def confirm_batch(
    batch_id: uuid.UUID, body: CorporateBatchConfirm, session: Session, ctx: Ctx, who: Organizer
) -> dict[str, Any]:
    now = ctx.clock.now()
    batch = (
        await session.execute(
            text("SELECT * FROM corporate_batches WHERE id = :id FOR UPDATE"), {"id": batch_id}
        )
    ).first()
    if batch is None:
        raise Problem(404, "Not Found", "No such corporate batch.")
    if batch.status != "awaiting_transfer":
        raise Problem(409, "Already confirmed", f"Confirmed {batch.confirmed_at}.")
    if body.amount_kzt != batch.invoice_total_kzt:
        raise Problem(
            422,
            "Amount differs from the invoice",
            f"The invoice is {batch.invoice_total_kzt} KZT, the transfer {body.amount_kzt} KZT.",
        )
    rows = (
        await session.execute(
            text(
                "SELECT id, fee_kzt FROM applications WHERE corporate_batch_id = :b "
                "AND status = 'listed' ORDER BY registration_number"
            ),
            {"b": batch_id},
        )
    ).all()
    # Slots are taken now; the capacity trigger refuses the whole commit when they are not
    # all there (the organizer then sees 409 and nothing is half-confirmed).
    for row in rows:
        outcome = await entries.pay_entry(
            session, ctx, row.id, now, "bank_transfer", row.fee_kzt, corporate_batch_id=batch_id
        )
        if outcome.result != "applied":
            raise Problem(409, "Not enough places", "The batch does not fit the places left.")
    await capacity.check_now(session)
    await session.execute(
        text(
            """UPDATE corporate_batches SET status = 'confirmed', confirmed_by = :by,
            confirmed_at = :now, transfer_reference = :ref, amount_received_kzt = :amount
            WHERE id = :id"""
        ),
        {
            "by": actor(who),
            "now": now,
            "ref": body.transfer_reference,
            "amount": body.amount_kzt,
            "id": batch_id,
        },
    )
    await entries.emit(
        session,
        topics.CORPORATE_BATCHES,
        CorporateBatchConfirmed(
            corporate_batch_id=batch_id,
            edition=batch.edition,
            company_name=batch.company_name,
            participant_ids=tuple(r.id for r in rows),
            amount_kzt=body.amount_kzt,
            confirmed_by=actor(who),
            confirmed_at=now,
            contact=Contact(**batch.contact),
        ),
    )
    return {"confirmed": len(rows)}


# --- the starter-kit desk (reg 8) -------------------------------------------------------------


@router.get("/kit-desk/search", summary="Find a participant by BIB, name or registration ID")
async def kit_search(q: str, session: Session, who: Organizer) -> list[dict[str, Any]]:
    term = q.strip()
    rows = (
        await session.execute(
            text(
                """SELECT id, registration_number, bib, distance, first_name, last_name,
                gender, age_category, birth_date, kit_issued_at, kit_chip FROM applications
                WHERE status = 'paid' AND (CAST(bib AS text) = :t OR registration_number = :t
                OR lower(last_name) = lower(:t) OR lower(first_name || ' ' || last_name) = lower(:t)
                OR CAST(id AS text) = :t) ORDER BY last_name LIMIT 50"""
            ),
            {"t": term},
        )
    ).all()
    return [dict(r._mapping) for r in rows]


async def _check_kit_hours(session: Any, ctx: Any, now: dt.datetime) -> None:
    """reg 8.1: kits only on the kit days, during the hours, and nowhere else."""
    edition = ctx.edition
    local = now.astimezone(edition.zone)
    shift = (await entries.competition_date(session, edition)) - edition.date
    days = [d + shift for d in edition.kit_issue.days]  # a postponement moves the kit days
    kit = edition.kit_issue
    if local.date() not in days or not kit.opens_at <= local.time() < kit.closes_at:
        raise Problem(
            409,
            "Not a kit day or hour",
            f"Kits are issued on {', '.join(d.isoformat() for d in days)}, "
            f"{kit.opens_at:%H:%M}-{kit.closes_at:%H:%M}, at {kit.address} (reg 8.1).",
            clause="8.1",
        )


@router.post(
    "/kit-desk/relay-teams/{team_id}/issue",
    summary="Record a relay team's kits: one chip per runner, paired with the leg BIBs (8, §8)",
)
async def issue_relay_kits(
    team_id: uuid.UUID, body: RelayKitIssue, session: Session, ctx: Ctx, who: Organizer
) -> dict[str, Any]:
    now = ctx.clock.now()
    await _check_kit_hours(session, ctx, now)
    team = (
        await session.execute(
            text("SELECT * FROM relay_teams WHERE id = :id FOR UPDATE"), {"id": team_id}
        )
    ).first()
    if team is None or team.status != "paid":
        raise Problem(404, "Not Found", "No paid relay team with that ID.")
    members = {m["member_id"] for m in team.members}
    chips = {str(member): chip for member, chip in body.chips.items()}
    if set(chips) != members or len(set(chips.values())) != len(chips):
        raise Problem(422, "One chip per runner", "Give each of the team's runners a chip.")
    if await session.scalar(
        text("SELECT 1 FROM applications WHERE kit_chip = ANY(CAST(:c AS text[]))"),
        {"c": list(chips.values())},
    ):
        raise Problem(409, "Chip in use", "A chip is paired with an individual BIB.")
    await session.execute(
        text(
            """UPDATE relay_teams SET members = (SELECT jsonb_agg(m || jsonb_build_object(
            'chip', CAST(:chips AS jsonb) ->> (m ->> 'member_id'))) FROM jsonb_array_elements(
            members) m), updated_at = :now WHERE id = :id"""
        ),
        {"chips": json.dumps(chips), "now": now, "id": team.id},
    )
    await entries.emit(
        session,
        topics.RELAY_TEAMS,
        RelayTeamKitIssued(
            relay_team_id=team.id,
            registration_number=team.registration_number,
            edition=team.edition,
            team_name=team.team_name,
            contact=Contact(
                first_name=team.captain["first_name"],
                last_name=team.captain["last_name"],
                email=team.captain["email"],
                language=team.captain["language"],
            ),
            bib=team.bib,
            chips=tuple(RelayMemberChip(member_id=uuid.UUID(m), chip=c) for m, c in chips.items()),
            issued_at=now,
        ),
    )
    return {"bib": team.bib, "chips": chips, "issued_at": now}


@router.post(
    "/kit-desk/{application_id}/issue",
    summary="Record the kit handed out, with the chip scanned and the documents seen (8.1-8.5)",
)
async def issue_kit(
    application_id: uuid.UUID, body: KitIssue, session: Session, ctx: Ctx, who: Organizer
) -> dict[str, Any]:
    now = ctx.clock.now()
    await _check_kit_hours(session, ctx, now)
    if body.collected_by == "proxy" and not body.proxy_name:
        raise Problem(422, "Who collects?", "A proxy's name is recorded (reg 8.5).")
    row = await entries.load_application(session, application_id, lock=True)
    if row is None or row.status != "paid":
        raise Problem(404, "Not Found", "No paid participant with that ID (reg 7.3).")
    if row.kit_issued_at is not None:
        raise Problem(409, "Kit already issued", f"Issued {row.kit_issued_at} (reg 7.8).")
    chip_taken = await session.scalar(
        text("SELECT 1 FROM applications WHERE kit_chip = :c AND id <> :id"),
        {"c": body.chip, "id": row.id},
    )
    if chip_taken:
        raise Problem(409, "Chip in use", "That chip is paired with another BIB.")
    record = {**body.model_dump(), "issued_by": actor(who)}
    await session.execute(
        text(
            """UPDATE applications SET kit_issued_at = :now, kit_chip = :chip,
            kit_record = CAST(:record AS jsonb), updated_at = :now WHERE id = :id"""
        ),
        {"now": now, "chip": body.chip, "record": json.dumps(record), "id": row.id},
    )
    await entries.emit(
        session,
        topics.PARTICIPANTS,
        KitIssued(
            **entries.participant_fields(row),
            bib=row.bib,
            chip=body.chip,
            chip_pre_paired=body.chip_pre_paired,
            collected_by_proxy=body.collected_by == "proxy",
            issued_at=now,
        ),
    )
    return {"bib": row.bib, "chip": body.chip, "issued_at": now}
