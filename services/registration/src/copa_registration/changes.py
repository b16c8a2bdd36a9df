"""A participant's own changes: distance change (reg 7.6) and the free-slot request (7.13)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from fastapi import APIRouter
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from copa_contracts import topics
from copa_contracts.participants import DistanceChanged
from copa_registration import capacity, entries, rules
from copa_registration.api import Ctx, Session, Token
from copa_registration.config import Context
from copa_registration.entries import Outcome
from copa_registration.rules import Refusal
from copa_registration.schemas import DistanceChangeCreate, FreeSlotRequest
from copa_runtime.problems import Problem

router = APIRouter(tags=["public"])


def _refusal_problem(refusal: Refusal) -> Problem:
    return Problem(
        refusal.status if refusal.status != 422 or refusal.reason != "distance_full" else 409,
        "Distance change refused",
        refusal.detail,
        type_=refusal.reason.replace("_", "-"),
        reason=refusal.reason,
        clause=refusal.clause,
    )


@router.post(
    "/applications/{application_id}/distance-change",
    status_code=201,
    summary="Ask to move a paid entry to another distance (reg 7.6): holds a slot there; "
    "pay the change fee through the same checkout",
)
async def request_distance_change(
    application_id: uuid.UUID,
    body: DistanceChangeCreate,
    session: Session,
    ctx: Ctx,
    token: Token = None,
) -> dict[str, Any]:
    now = ctx.clock.now()
    edition = ctx.edition
    row = await entries.owned_application(session, application_id, token, lock=True)
    if row.status != "paid":
        raise Problem(409, "Not a participant yet", "Only a paid entry changes distance (7.6).")
    new = entries.distance_of(edition, body.to_distance)
    old = edition.distance(row.distance)
    if new.code == old.code:
        raise Problem(422, "Same distance", "Choose another distance.")
    try:
        rules.check_distance_change_allowed(edition, rules.local_date(edition, now))
        on = await entries.competition_date(session, edition)
        category = rules.age_category(edition, new, row.gender, row.birth_date, on)
        # RULES §3: a change into 3000 m needs the qualifying result (numbers checked here).
        rules.check_qualification(
            edition,
            category,
            entries.to_result(body.qualifying_result),
            rules.local_date(edition, now),
            new,
        )
    except Refusal as refusal:
        raise _refusal_problem(refusal) from None
    already = await session.scalar(
        text(
            "SELECT 1 FROM distance_changes WHERE application_id = :id AND status = 'held' "
            "AND hold_expires_at > :now"
        ),
        {"id": row.id, "now": now},
    )
    if already:
        raise Problem(409, "A change is pending", "Pay or let the pending change expire first.")
    # reg 7.6: "only if there are free slots for the selected distance" (the total does not
    # change: the participant leaves one distance for another).
    full = await entries.room_for(session, ctx, [new.code], now)
    if full is not None:
        raise _refusal_problem(entries.capacity_refusal(full))
    change_fee, difference = rules.distance_change_fee(edition, old, new)
    change_id = uuid.uuid4()
    expires = now + dt.timedelta(minutes=edition.registration.hold_minutes)
    await session.execute(
        text(
            """INSERT INTO distance_changes (id, application_id, from_distance, to_distance,
            to_category, change_fee_kzt, fee_difference_kzt, status, hold_expires_at, old_bib,
            created_at) VALUES (:id, :app, :old, :new, :cat, :fee, :diff, 'held', :exp, :bib,
            :now)"""
        ),
        {
            "id": change_id,
            "app": row.id,
            "old": old.code,
            "new": new.code,
            "cat": category.code,
            "fee": change_fee,
            "diff": difference,
            "exp": expires,
            "bib": row.bib,
            "now": now,
        },
    )
    await capacity.check_now(session)
    return {
        "distance_change_id": change_id,
        "from_distance": old.code,
        "to_distance": new.code,
        "change_fee_kzt": change_fee,
        "fee_difference_kzt": difference,
        "amount_due_kzt": change_fee + difference,
        "hold_expires_at": expires,
    }


async def pay_distance_change(
    session: AsyncSession, ctx: Context, change_id: uuid.UUID, now: dt.datetime
) -> Outcome:
    """The change fee arrived: a new BIB of the new distance; the old one is lost (reg 7.6)."""
    change = (
        await session.execute(
            text("SELECT * FROM distance_changes WHERE id = :id FOR UPDATE"), {"id": change_id}
        )
    ).first()
    if change is None or change.status != "held":
        return Outcome("unmatched", "not_payable")
    row = await entries.load_application(session, change.application_id, lock=True)
    assert row is not None
    if change.hold_expires_at <= now:
        await session.execute(
            text("UPDATE distance_changes SET status = 'expired' WHERE id = :id"), {"id": change.id}
        )
        if await entries.room_for(session, ctx, [change.to_distance], now) is not None:
            return Outcome("unmatched", "hold_expired_sold_out")
    bib = await capacity.next_bib(session, change.to_distance)
    await session.execute(
        text(
            """UPDATE distance_changes SET status = 'paid', new_bib = :bib, changed_at = :now
            WHERE id = :id"""
        ),
        {"bib": bib, "now": now, "id": change.id},
    )
    amount = change.change_fee_kzt + change.fee_difference_kzt
    updated = (
        await session.execute(
            text(
                """UPDATE applications SET distance = :d, age_category = :c, bib = :bib,
                fee_kzt = fee_kzt + :diff, amount_paid_kzt = amount_paid_kzt + :amount,
                updated_at = :now WHERE id = :id RETURNING *"""
            ),
            {
                "d": change.to_distance,
                "c": change.to_category,
                "bib": bib,
                "diff": change.fee_difference_kzt,
                "amount": amount,
                "now": now,
                "id": row.id,
            },
        )
    ).one()
    await entries.emit(
        session,
        topics.PARTICIPANTS,
        DistanceChanged(
            **entries.participant_fields(updated),
            from_distance=change.from_distance,
            to_distance=change.to_distance,
            age_category=change.to_category,
            old_bib=row.bib,
            new_bib=bib,
            change_fee_kzt=change.change_fee_kzt,
            fee_difference_kzt=change.fee_difference_kzt,
            changed_at=now,
        ),
    )
    return Outcome("applied")


@router.post(
    "/applications/{application_id}/free-slot-request",
    status_code=202,
    summary="Ask for a free slot for a participant with a disability (reg 7.13)",
)
async def request_free_slot(
    application_id: uuid.UUID,
    body: FreeSlotRequest,
    session: Session,
    ctx: Ctx,
    token: Token = None,
) -> dict[str, Any]:
    now = ctx.clock.now()
    edition = ctx.edition
    row = await entries.owned_application(session, application_id, token, lock=True)
    before = edition.registration.free_slot_applications_before
    if rules.local_date(edition, now) >= before:
        raise Problem(
            409,
            "Too late for a free slot",
            f"Free-slot applications are accepted before {before.isoformat()} (reg 7.13).",
            reason="after_deadline",
            clause="7.13",
        )
    if body.distance != row.distance or rules.normalize_name(
        body.full_name
    ) != rules.normalize_name(f"{row.first_name} {row.last_name}"):
        raise Problem(
            422,
            "Does not match the entry",
            "The full name and distance must be those of the registration ID (reg 7.13).",
        )
    if row.status not in ("held", "paid", "expired"):
        raise Problem(409, "No entry to grant", "The application was refused.")
    if row.free_slot_status is not None:
        raise Problem(409, "Already requested", f"The request is {row.free_slot_status}.")
    await session.execute(
        text(
            """UPDATE applications SET free_slot_status = 'requested',
            free_slot_documents = CAST(:docs AS jsonb), free_slot_requested_at = :now,
            updated_at = :now WHERE id = :id"""
        ),
        {"docs": json.dumps(body.documents), "now": now, "id": row.id},
    )
    return {"free_slot_status": "requested"}
