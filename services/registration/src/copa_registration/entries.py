"""Applications, holds, payments and BIBs: registration's service functions (reg 7, RULES §3).

Each function takes the request's unit of work (a session inside one transaction) and the
instant ``now`` from the service's clock; the state change and its events (through the outbox)
commit together or not at all.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncSession

from copa_contracts import topics
from copa_contracts.common import Contact
from copa_contracts.edition import DistanceConfig, Edition
from copa_contracts.envelope import Event
from copa_contracts.participants import (
    ApplicationReceived,
    ApplicationRefused,
    HoldExpired,
    ParticipantPaid,
    PaymentNeedsAttention,
)
from copa_contracts.topic import Topic
from copa_registration import capacity, rules
from copa_registration.capacity import TOTAL
from copa_registration.config import Context
from copa_registration.rules import QualifyingResult, Refusal
from copa_registration.schemas import ApplicationCreate, QualifyingResultIn
from copa_runtime.outbox import add_event
from copa_runtime.problems import Problem

REFUSAL_STATUS = {
    "registration_closed": 409,
    "capacity_reached": 409,
    "distance_full": 409,
    "under_minimum_age": 422,
    "banned": 403,
    "qualification_refused": 422,
    "duplicate": 409,
}


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> tuple[str, str]:
    token = secrets.token_urlsafe(24)
    return token, hash_token(token)


async def emit(session: AsyncSession, topic: Topic, event: Event) -> None:
    await add_event(session, topic, event, key=topic.key_of(event))


async def competition_date(session: AsyncSession, edition: Edition) -> dt.date:
    """The competition day in force: the config's, or the new one after a postponement (16.1)."""
    value = await session.scalar(
        text("SELECT competition_date FROM edition_state WHERE edition = :e"), {"e": edition.code}
    )
    return value if value is not None else edition.date


def contact_of(row: Any) -> Contact:
    return Contact(
        first_name=row.first_name,
        last_name=row.last_name,
        email=row.email,
        language=row.language,
    )


def participant_fields(row: Any) -> dict[str, Any]:
    return {
        "participant_id": row.id,
        "registration_number": row.registration_number,
        "edition": row.edition,
        "contact": contact_of(row),
    }


async def load_application(
    session: AsyncSession, application_id: uuid.UUID, *, lock: bool = False
) -> Row[Any] | None:
    sql = "SELECT * FROM applications WHERE id = :id" + (" FOR UPDATE" if lock else "")
    return (await session.execute(text(sql), {"id": application_id})).first()


async def owned_application(
    session: AsyncSession, application_id: uuid.UUID, token: str | None, *, lock: bool = False
) -> Row[Any]:
    """The application, if ``token`` is its personal token; otherwise 404 (never say which)."""
    row = await load_application(session, application_id, lock=lock)
    if row is None or token is None or not hmac.compare_digest(row.token_hash, hash_token(token)):
        raise Problem(
            404,
            "Not Found",
            "No application with that ID and personal token.",
            type_="application-not-found",
        )
    return row


def distance_of(edition: Edition, code: str) -> DistanceConfig:
    try:
        return edition.distance(code)
    except KeyError:
        codes = ", ".join(d.code for d in edition.distances)
        raise Problem(
            422, "Unknown distance", f"{code!r} is not a distance; one of {codes} (reg 4.1)."
        ) from None


def to_result(q: QualifyingResultIn | None) -> QualifyingResult | None:
    if q is None:
        return None
    return QualifyingResult(q.distance_m, q.time_us, q.result_date, q.event_name, q.evidence_url)


async def is_banned(session: AsyncSession, person: str, edition: str) -> bool:
    """reg 7.11: banned from the next editions after the breach."""
    found = await session.scalar(
        text("SELECT 1 FROM bans WHERE person_key = :p AND :e = ANY(banned_editions) LIMIT 1"),
        {"p": person, "e": edition},
    )
    return found is not None


def public_view(row: Any, now: dt.datetime) -> dict[str, Any]:
    """What the owner sees; an unpaid hold past its expiry reads as expired at once."""
    status = row.status
    if status == "held" and row.hold_expires_at is not None and row.hold_expires_at <= now:
        status = "expired"  # RULES §3: expiry checked at read time, before the sweeper runs
    refusal = None
    if row.refusal_reason:
        refusal = {
            "reason": row.refusal_reason,
            "clause": row.refusal_clause or "",
            "detail": row.refusal_detail or "",
        }
    return {
        "registration_id": row.id,
        "registration_number": row.registration_number,
        "status": status,
        "distance": row.distance,
        "first_name": row.first_name,
        "last_name": row.last_name,
        "age_category": row.age_category,
        "fee_kzt": row.fee_kzt,
        "hold_expires_at": row.hold_expires_at if status == "held" else None,
        "bib": row.bib,
        "paid_at": row.paid_at,
        "amount_paid_kzt": row.amount_paid_kzt,
        "qualification_status": row.qualification_status,
        "refusal": refusal,
        "free_slot_status": row.free_slot_status,
        "kit_issued": row.kit_issued_at is not None,
    }


_INSERT_APPLICATION = text(
    """
INSERT INTO applications (
    id, token_hash, edition, distance, first_name, last_name, gender, birth_date, email, phone,
    language, city, club, person_key, age_category, fee_kzt, status, hold_expires_at,
    qualification, qualification_status, corporate_batch_id, refusal_reason, refusal_clause,
    refusal_detail, created_at, updated_at
) VALUES (
    :id, :token_hash, :edition, :distance, :first_name, :last_name, :gender, :birth_date, :email,
    :phone, :language, :city, :club, :person_key, :age_category, :fee_kzt, :status,
    :hold_expires_at, CAST(:qualification AS jsonb), :qualification_status, :corporate_batch_id,
    :refusal_reason, :refusal_clause, :refusal_detail, :now, :now
)
ON CONFLICT (edition, person_key, distance)
    WHERE status IN ('held', 'paid', 'awaiting_qualification', 'listed')
DO NOTHING
RETURNING *
"""
)


def _qualification_json(q: QualifyingResultIn | None) -> str | None:
    return None if q is None else q.model_dump_json()


async def _refuse(
    session: AsyncSession, values: dict[str, Any], refusal: Refusal, now: dt.datetime
) -> Row[Any]:
    values = {
        **values,
        "status": "refused",
        "hold_expires_at": None,
        "refusal_reason": refusal.reason,
        "refusal_clause": refusal.clause,
        "refusal_detail": refusal.detail,
    }
    row = (await session.execute(_INSERT_APPLICATION, values)).one()
    await emit(
        session,
        topics.PARTICIPANTS,
        ApplicationRefused(
            **participant_fields(row),
            reason=refusal.reason,
            clause=refusal.clause,
            detail=refusal.detail,
            refused_at=now,
        ),
    )
    return row


def capacity_refusal(scope: str) -> Refusal:
    """Which limit is reached: the 700 in all (7.1) or the distance's slots (7.6)."""
    if scope == TOTAL:
        return Refusal(
            "capacity_reached",
            "7.1",
            "All places are taken or held; held places free up when unpaid holds expire.",
            409,
        )
    return Refusal(
        "distance_full",
        "7.6",
        f"No free slot left on {scope}; held slots free up when unpaid holds expire.",
        409,
    )


async def any_expired(session: AsyncSession, now: dt.datetime) -> bool:
    return bool(
        await session.scalar(
            text(
                """SELECT EXISTS (SELECT 1 FROM applications WHERE status = 'held'
                    AND hold_expires_at <= :now)
                OR EXISTS (SELECT 1 FROM distance_changes WHERE status = 'held'
                    AND hold_expires_at <= :now)
                OR EXISTS (SELECT 1 FROM relay_teams WHERE status = 'held'
                    AND hold_expires_at <= :now)"""
            ),
            {"now": now},
        )
    )


async def room_for(
    session: AsyncSession, ctx: Context, scopes: list[str], now: dt.datetime
) -> str | None:
    """None when there seems to be room on ``scopes``, else the full scope. Holds that ran out
    are released first (RULES §3: at once, not only when the sweeper passes)."""
    full = await capacity.full_scopes(session, scopes)
    if full and await any_expired(session, now):
        await sweep_expired(session, ctx, now, limit=1000)
        return None  # released in this transaction; the commit-time check decides
    return full[0] if full else None


def _values(
    ctx: Context, body: ApplicationCreate, now: dt.datetime, distance: DistanceConfig
) -> tuple[str, dict[str, Any]]:
    token, token_hash = new_token()
    return token, {
        "id": uuid.uuid4(),
        "token_hash": token_hash,
        "edition": ctx.edition.code,
        "distance": distance.code,
        "first_name": body.first_name,
        "last_name": body.last_name,
        "gender": body.gender,
        "birth_date": body.birth_date,
        "email": body.email,
        "phone": body.phone,
        "language": body.language,
        "city": body.city,
        "club": body.club,
        "person_key": rules.person_key(body.first_name, body.last_name, body.birth_date),
        "age_category": None,
        "fee_kzt": distance.fee_kzt,
        "status": "held",
        "hold_expires_at": None,
        "qualification": _qualification_json(body.qualifying_result),
        "qualification_status": None,
        "corporate_batch_id": None,
        "refusal_reason": None,
        "refusal_clause": None,
        "refusal_detail": None,
        "now": now,
    }


async def create_application(
    session: AsyncSession, ctx: Context, body: ApplicationCreate, now: dt.datetime
) -> tuple[int, dict[str, Any]]:
    """An application gets its registration ID and personal token at once (reg 7.3) and holds
    a slot until paid, or is refused with the reason and clause."""
    edition = ctx.edition
    distance = distance_of(edition, body.distance)
    token, values = _values(ctx, body, now, distance)
    person = values["person_key"]
    try:
        rules.check_window(edition, now)
        facts = (
            await session.execute(
                text(
                    """SELECT (SELECT competition_date FROM edition_state WHERE edition = :e) AS on,
                    EXISTS (SELECT 1 FROM bans WHERE person_key = :p
                        AND :e = ANY(banned_editions)) AS banned,
                    ARRAY(SELECT scope FROM capacity WHERE scope IN ('total', :d)
                        AND taken >= slot_limit ORDER BY scope = 'total' DESC) AS full"""
                ),
                {"e": edition.code, "p": person, "d": distance.code},
            )
        ).one()
        on = facts.on or edition.date
        category = rules.age_category(edition, distance, body.gender, body.birth_date, on)
        values["age_category"] = category.code
        rules.check_qualification(
            edition,
            category,
            to_result(body.qualifying_result),
            rules.local_date(edition, now),
            distance,
        )
        if facts.banned:
            raise Refusal(
                "banned",
                "7.11",
                "Admission is denied for the editions following a BIB transfer.",
                403,
            )
    except Refusal as raised:
        refusal = _with_status(raised)
        refused_row = await _refuse(session, values, refusal, now)
        return _refused_response(refused_row, token, refusal)

    if distance.qualification_required:
        # reg 4.2.3: the numbers passed; the slot is held once an organizer verified the
        # evidence (a human check must not eat the 30-minute hold).
        values["status"] = "awaiting_qualification"
        values["qualification_status"] = "pending"
    else:
        full = None
        if facts.full:  # looks full: release expired holds first, or refuse at once
            full = await room_for(session, ctx, [TOTAL, distance.code], now)
        if full is not None:
            refusal = capacity_refusal(full)
            refused_row = await _refuse(session, values, refusal, now)
            return _refused_response(refused_row, token, refusal)
        values["hold_expires_at"] = now + dt.timedelta(minutes=edition.registration.hold_minutes)
    row = (await session.execute(_INSERT_APPLICATION, values)).first()
    if row is None:
        refusal = Refusal(
            "duplicate",
            "7.3",
            f"You already have an entry for {distance.code} in this edition.",
            409,
        )
        values["id"] = uuid.uuid4()
        row = await _refuse(session, values, refusal, now)
        return _refused_response(row, token, refusal)
    # The slot is taken at commit by the capacity trigger; a full limit fails the commit with
    # CapacityFull and the caller records the refusal in a new transaction.
    await _emit_received(session, row, distance.qualification_required)
    return 201, {**public_view(row, now), "personal_token": token}


async def refuse_for_capacity(
    session: AsyncSession, ctx: Context, body: ApplicationCreate, now: dt.datetime, scope: str
) -> tuple[int, dict[str, Any]]:
    """The application lost the race for the last slot at commit: record it as refused."""
    edition = ctx.edition
    distance = distance_of(edition, body.distance)
    token, values = _values(ctx, body, now, distance)
    on = await competition_date(session, edition)
    category = rules.age_category(edition, distance, body.gender, body.birth_date, on)
    values["age_category"] = category.code
    refusal = capacity_refusal(scope)
    row = await _refuse(session, values, refusal, now)
    return _refused_response(row, token, refusal)


async def _emit_received(session: AsyncSession, row: Any, qualification_required: bool) -> Any:
    envelope = await add_event(
        session,
        topics.PARTICIPANTS,
        ApplicationReceived(
            **participant_fields(row),
            distance=row.distance,
            gender=row.gender,
            age_category=row.age_category,
            fee_kzt=row.fee_kzt,
            hold_expires_at=row.hold_expires_at,
            qualification_required=qualification_required,
            # reg 4.2.3: no hold until an organizer accepted the qualifying result; say so, so
            # that no consumer reads the missing deadline as a company entry (reg 7.2).
            awaiting="qualification_check" if row.status == "awaiting_qualification" else None,
        ),
        key=str(row.id),
    )
    return envelope.event_id


def _with_status(refusal: Refusal) -> Refusal:
    status = REFUSAL_STATUS.get(refusal.reason, refusal.status)
    return Refusal(refusal.reason, refusal.clause, refusal.detail, status)


def _refused_response(row: Any, token: str, refusal: Refusal) -> tuple[int, dict[str, Any]]:
    return refusal.status, {
        "type": f"https://copa.run/problems/{refusal.reason.replace('_', '-')}",
        "title": "Application refused",
        "status": refusal.status,
        "detail": refusal.detail,
        "reason": refusal.reason,
        "clause": refusal.clause,
        "registration_id": str(row.id),
        "registration_number": row.registration_number,
        "personal_token": token,
    }


# --- holds -----------------------------------------------------------------------------------


async def sweep_expired(
    session: AsyncSession, ctx: Context, now: dt.datetime, *, limit: int = 1000
) -> int:
    """Release every hold that ran out: the application becomes `expired`, its slot goes back
    (RULES §3), ``participant.hold-expired`` is sent. Rows being paid right now are skipped
    (their payment decides)."""
    expired = (
        await session.execute(
            text(
                """
UPDATE applications a SET status = 'expired', updated_at = :now
WHERE a.id IN (
    SELECT id FROM applications WHERE status = 'held' AND hold_expires_at <= :now
    ORDER BY hold_expires_at LIMIT :limit FOR UPDATE SKIP LOCKED
)
RETURNING a.*
"""
            ),
            {"now": now, "limit": limit},
        )
    ).all()
    released = len(expired)
    if expired:  # the capacity trigger gives the slots back at commit
        for row in expired:
            await emit(
                session,
                topics.PARTICIPANTS,
                HoldExpired(
                    **participant_fields(row),
                    distance=row.distance,
                    expired_at=row.hold_expires_at,
                ),
            )
    released += await _sweep_other_holds(session, now, limit)
    return released


async def _sweep_other_holds(session: AsyncSession, now: dt.datetime, limit: int) -> int:
    """Holds of distance changes (the new distance only) and of relay teams."""
    changes = (
        await session.execute(
            text(
                """
UPDATE distance_changes c SET status = 'expired'
WHERE c.id IN (
    SELECT id FROM distance_changes WHERE status = 'held' AND hold_expires_at <= :now
    LIMIT :limit FOR UPDATE SKIP LOCKED
) RETURNING c.to_distance
"""
            ),
            {"now": now, "limit": limit},
        )
    ).all()
    teams = (
        await session.execute(
            text(
                """
UPDATE relay_teams t SET status = 'expired', updated_at = :now
WHERE t.id IN (
    SELECT id FROM relay_teams WHERE status = 'held' AND hold_expires_at <= :now
    LIMIT :limit FOR UPDATE SKIP LOCKED
) RETURNING t.id
"""
            ),
            {"now": now, "limit": limit},
        )
    ).all()
    return len(changes) + len(teams)


# --- payments --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Notification:
    """A provider's payment notification, verified and in our terms (the provider port)."""

    provider: str
    transaction_id: str
    invoice_id: str | None
    account_id: str | None
    amount_kzt: int | None
    amount_received: str
    currency: str
    completed: bool
    raw: dict[str, Any]

    @property
    def transaction_key(self) -> str:
        return f"{self.provider}:{self.transaction_id}"


@dataclass(frozen=True)
class Outcome:
    result: str  # "applied", "duplicate", "unmatched", "ignored"
    reason: str | None = None


async def start_payment(
    session: AsyncSession,
    ctx: Context,
    application_id: uuid.UUID,
    token: str | None,
    now: dt.datetime,
) -> dict[str, Any]:
    """A payment attempt for the fee due: for the entry itself or a pending distance change."""
    row = await owned_application(session, application_id, token, lock=True)
    change = (
        await session.execute(
            text(
                """SELECT * FROM distance_changes WHERE application_id = :id AND status = 'held'
                AND hold_expires_at > :now"""
            ),
            {"id": row.id, "now": now},
        )
    ).first()
    if row.status == "paid" and change is not None:
        amount = change.change_fee_kzt + change.fee_difference_kzt
        purpose, change_id = "distance_change", change.id
    elif row.status == "held" and row.hold_expires_at > now:
        amount, purpose, change_id = row.fee_kzt, "entry", None
    elif row.status == "paid":
        raise Problem(409, "Already paid", "This entry is paid; there is nothing to pay.")
    elif row.status == "awaiting_qualification":
        raise Problem(
            409,
            "Qualification not verified yet",
            "An organizer verifies the qualifying result before payment is taken (reg 4.2.3).",
            type_="qualification-pending",
        )
    else:
        raise Problem(
            409,
            "Nothing to pay",
            "The hold on this slot expired or the application was refused; apply again.",
            type_="hold-expired",
            clause="7.1",
        )
    payment_id = uuid.uuid4()
    await session.execute(
        text(
            """INSERT INTO payments (id, purpose, application_id, distance_change_id, amount_kzt,
            provider, status, created_at) VALUES (:id, :purpose, :app, :change, :amount,
            :provider, 'started', :now)"""
        ),
        {
            "id": payment_id,
            "purpose": purpose,
            "app": row.id,
            "change": change_id,
            "amount": amount,
            "provider": ctx.settings.payment_provider,
            "now": now,
        },
    )
    return {"payment_id": payment_id, "amount_kzt": amount, "purpose": purpose}


async def record_transaction(
    session: AsyncSession, n: Notification, now: dt.datetime, payment_id: uuid.UUID | None
) -> bool:
    """Store the provider transaction once; False when it was stored before (a repeat)."""
    inserted = await session.scalar(
        text(
            """
INSERT INTO provider_transactions (provider, transaction_id, payment_id, invoice_id, account_id,
    amount_kzt, amount_received, currency, outcome, raw, received_at)
VALUES (:provider, :tx, :payment, :invoice, :account, :amount, :received, :currency,
    'received', CAST(:raw AS jsonb), :now)
ON CONFLICT (provider, transaction_id) DO NOTHING
RETURNING 1
"""
        ),
        {
            "provider": n.provider,
            "tx": n.transaction_id,
            "payment": payment_id,
            "invoice": n.invoice_id,
            "account": n.account_id,
            "amount": n.amount_kzt,
            "received": f"{n.amount_received} {n.currency}",
            "currency": n.currency,
            "raw": _json(n.raw),
            "now": now,
        },
    )
    return inserted is not None


def _json(value: Any) -> str:
    import json

    return json.dumps(value, default=str, ensure_ascii=False)


async def _mark(
    session: AsyncSession,
    n: Notification,
    outcome: str,
    reason: str | None,
    **extra: Any,
) -> None:
    await session.execute(
        text(
            """UPDATE provider_transactions SET outcome = :outcome, reason = :reason,
            participant_id = :participant, relay_team_id = :team,
            registration_number = :number, expected_kzt = :expected
            WHERE provider = :provider AND transaction_id = :tx"""
        ),
        {
            "outcome": outcome,
            "reason": reason,
            "participant": extra.get("participant_id"),
            "team": extra.get("relay_team_id"),
            "number": extra.get("registration_number"),
            "expected": extra.get("expected_kzt"),
            "provider": n.provider,
            "tx": n.transaction_id,
        },
    )


async def unmatched(
    session: AsyncSession,
    ctx: Context,
    n: Notification,
    reason: str,
    now: dt.datetime,
    **extra: Any,
) -> Outcome:
    """RULES §3: money that cannot be applied is recorded and put before an organizer."""
    await _mark(session, n, "unmatched", reason, **extra)
    await emit(
        session,
        topics.PAYMENTS,
        PaymentNeedsAttention(
            transaction_key=n.transaction_key,
            edition=ctx.edition.code,
            provider=n.provider,
            reason=reason,
            amount_kzt=n.amount_kzt,
            amount_received=f"{n.amount_received} {n.currency}"[:64],
            expected_kzt=extra.get("expected_kzt"),
            participant_id=extra.get("participant_id"),
            relay_team_id=extra.get("relay_team_id"),
            registration_number=extra.get("registration_number") or n.account_id,
            received_at=now,
        ),
    )
    return Outcome("unmatched", reason)


async def apply_notification(
    session: AsyncSession, ctx: Context, n: Notification, now: dt.datetime
) -> Outcome:
    """Apply a verified payment notification at most once per provider transaction."""
    payment_id = _as_uuid(n.invoice_id)
    payment = None
    if payment_id is not None:
        payment = (
            await session.execute(
                text("SELECT * FROM payments WHERE id = :id FOR UPDATE"), {"id": payment_id}
            )
        ).first()
    if not await record_transaction(session, n, now, payment.id if payment else None):
        return Outcome("duplicate")
    if not n.completed:
        await _mark(session, n, "ignored", "not_completed")
        return Outcome("ignored", "not_completed")
    if payment is None:
        return await unmatched(session, ctx, n, "unknown_id", now)
    ids = {
        "participant_id": payment.application_id,
        "relay_team_id": payment.relay_team_id,
        "expected_kzt": payment.amount_kzt,
    }
    if n.currency != "KZT" or n.amount_kzt != payment.amount_kzt:
        return await unmatched(session, ctx, n, "wrong_amount", now, **ids)
    if payment.purpose == "entry":
        outcome = await pay_entry(
            session, ctx, payment.application_id, now, "online", payment.amount_kzt
        )
    elif payment.purpose == "distance_change":
        from copa_registration.changes import pay_distance_change

        outcome = await pay_distance_change(session, ctx, payment.distance_change_id, now)
    else:
        from copa_registration.relay import pay_relay_team

        outcome = await pay_relay_team(session, ctx, payment.relay_team_id, now, payment.amount_kzt)
    if outcome.result == "unmatched":
        row = None
        if payment.application_id is not None:
            row = await load_application(session, payment.application_id)
        return await unmatched(
            session,
            ctx,
            n,
            outcome.reason or "not_payable",
            now,
            registration_number=row.registration_number if row is not None else None,
            **ids,
        )
    await session.execute(
        text(
            "UPDATE payments SET status = 'paid', paid_at = :now, transaction_key = :k "
            "WHERE id = :id"
        ),
        {"now": now, "k": n.transaction_key, "id": payment.id},
    )
    await _mark(session, n, "applied", None, **ids)
    return outcome


async def record_sold_out(
    session: AsyncSession, ctx: Context, n: Notification, now: dt.datetime
) -> Outcome:
    """The payment's commit found no slot left: keep the money for an organizer (RULES §3)."""
    payment_id = _as_uuid(n.invoice_id)
    payment = None
    if payment_id is not None:
        payment = (
            await session.execute(text("SELECT * FROM payments WHERE id = :id"), {"id": payment_id})
        ).first()
    if not await record_transaction(session, n, now, payment.id if payment else None):
        return Outcome("duplicate")
    extra: dict[str, Any] = {}
    if payment is not None:
        extra = {
            "participant_id": payment.application_id,
            "relay_team_id": payment.relay_team_id,
            "expected_kzt": payment.amount_kzt,
        }
        if payment.application_id is not None:
            row = await load_application(session, payment.application_id)
            extra["registration_number"] = row.registration_number if row else None
    return await unmatched(session, ctx, n, "hold_expired_sold_out", now, **extra)


def _as_uuid(value: str | None) -> uuid.UUID | None:
    if not value:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


async def pay_entry(
    session: AsyncSession,
    ctx: Context,
    application_id: uuid.UUID,
    now: dt.datetime,
    method: str,
    amount_kzt: int,
    *,
    corporate_batch_id: uuid.UUID | None = None,
) -> Outcome:
    """The fee arrived: the application becomes a participant with a BIB (reg 7.3, 7.8).

    A live hold turns into a paid slot; a hold that ran out takes a fresh slot if one is left,
    otherwise the money is unmatched (RULES §3: hold expired and sold out)."""
    row = await load_application(session, application_id, lock=True)
    if row is None:
        return Outcome("unmatched", "unknown_id")
    if row.status == "paid":
        return Outcome("unmatched", "already_paid")
    if row.status == "held" and row.hold_expires_at is not None and row.hold_expires_at <= now:
        await _expire_one(session, row)
        row = await load_application(session, application_id, lock=True)
        assert row is not None
    distance = row.distance
    if row.status == "held":
        pass  # the held slot becomes the paid one: the counters do not move
    elif row.status in ("expired", "listed"):
        # A slot is taken again at commit; when none is left the commit fails with
        # CapacityFull and the caller records the money as unmatched (RULES §3).
        if await room_for(session, ctx, [TOTAL, distance], now) is not None:
            return Outcome("unmatched", "hold_expired_sold_out")
    else:
        return Outcome("unmatched", "not_payable")
    bib = await capacity.next_bib(session, distance)
    row = (
        await session.execute(
            text(
                """UPDATE applications SET status = 'paid', bib = :bib, paid_at = :now,
                payment_method = :method, amount_paid_kzt = amount_paid_kzt + :amount,
                hold_expires_at = NULL, updated_at = :now WHERE id = :id RETURNING *"""
            ),
            {"bib": bib, "now": now, "method": method, "amount": amount_kzt, "id": row.id},
        )
    ).one()
    await emit(session, topics.PARTICIPANTS, paid_event(row, now, corporate_batch_id))
    return Outcome("applied")


def paid_event(row: Any, now: dt.datetime, corporate_batch_id: uuid.UUID | None) -> ParticipantPaid:
    return ParticipantPaid(
        **participant_fields(row),
        distance=row.distance,
        gender=row.gender,
        age_category=row.age_category,
        bib=row.bib,
        amount_kzt=row.amount_paid_kzt,
        payment_method=row.payment_method,
        paid_at=now,
        corporate_batch_id=corporate_batch_id,
        club=row.club or row.city,
    )


async def _expire_one(session: AsyncSession, row: Any) -> None:
    await session.execute(
        text("UPDATE applications SET status = 'expired' WHERE id = :id"), {"id": row.id}
    )
    await emit(
        session,
        topics.PARTICIPANTS,
        HoldExpired(
            **participant_fields(row), distance=row.distance, expired_at=row.hold_expires_at
        ),
    )


async def check_payable(session: AsyncSession, n: Notification, now: dt.datetime) -> int:
    """A provider's pre-payment check (CloudPayments `Check`): 0 accept, 10 unknown invoice,
    12 wrong amount, 13 cannot be accepted, 20 expired."""
    payment_id = _as_uuid(n.invoice_id)
    if payment_id is None:
        return 10
    payment = (
        await session.execute(text("SELECT * FROM payments WHERE id = :id"), {"id": payment_id})
    ).first()
    if payment is None:
        return 10
    if n.currency != "KZT" or n.amount_kzt != payment.amount_kzt:
        return 12
    if payment.status != "started":
        return 13
    if payment.purpose == "entry":
        row = await load_application(session, payment.application_id)
        if row is None or row.status != "held":
            return 13
        if row.hold_expires_at <= now:
            return 20
    return 0
