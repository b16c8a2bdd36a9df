"""Relay teams (RULES §8): four runners in leg order 800/400/200/100, one team fee through the
same checkout, a team BIB and a leg BIB for each runner; leg order changes until the entry
deadline (the close of registration, reg 7.1)."""

from __future__ import annotations

import datetime as dt
import hmac
import json
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncSession

from copa_contracts import topics
from copa_contracts.common import Contact
from copa_contracts.participants import RelayLegOrderChanged, RelayMember, RelayTeamRegistered
from copa_registration import capacity, entries, rules
from copa_registration.api import Ctx, IdempotencyKey, Session, Token, checkout
from copa_registration.config import Context
from copa_registration.entries import Outcome
from copa_registration.idempotency import remember, replay_or_reserve, request_hash
from copa_registration.rules import Refusal
from copa_registration.schemas import LegOrderChange, RelayTeamCreate
from copa_runtime.problems import Problem

router = APIRouter(tags=["relay"])


def _members(team: Any, bib: int | None) -> tuple[RelayMember, ...]:
    return tuple(
        RelayMember(
            member_id=uuid.UUID(m["member_id"]),
            leg=m["leg"],
            leg_distance_m=m["leg_distance_m"],
            first_name=m["first_name"],
            last_name=m["last_name"],
            gender=m["gender"],
            leg_bib=rules.leg_bib(bib, m["leg"]) if bib is not None else None,
        )
        for m in team.members
    )


def _contact(team: Any) -> Contact:
    c = team.captain
    return Contact(
        first_name=c["first_name"],
        last_name=c["last_name"],
        email=c["email"],
        language=c["language"],
    )


def _view(team: Any, now: dt.datetime) -> dict[str, Any]:
    status = team.status
    if status == "held" and team.hold_expires_at <= now:
        status = "expired"
    return {
        "relay_team_id": team.id,
        "registration_number": team.registration_number,
        "team_name": team.team_name,
        "status": status,
        "fee_kzt": team.fee_kzt,
        "hold_expires_at": team.hold_expires_at if status == "held" else None,
        "bib": team.bib,
        "members": [
            {
                "member_id": m["member_id"],
                "leg": m["leg"],
                "leg_distance_m": m["leg_distance_m"],
                "first_name": m["first_name"],
                "last_name": m["last_name"],
                "leg_bib": rules.leg_bib(team.bib, m["leg"]) if team.bib else None,
            }
            for m in team.members
        ],
    }


@router.post("/relay-teams", status_code=201, summary="Enter a relay team of 4 (RULES §8)")
async def enter_team(
    request: Request, body: RelayTeamCreate, ctx: Ctx, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    edition = ctx.edition
    relay = edition.relay
    now = ctx.clock.now()
    fingerprint = request_hash("POST /relay-teams", await request.body())
    if len(body.runners) != len(relay.legs_m):
        raise Problem(
            422, "A team is 4 runners", f"List {len(relay.legs_m)} runners in leg order (§8)."
        )
    db = request.app.state.runtime.db
    try:
        async with capacity.checked_unit_of_work(db) as session:
            replay = await replay_or_reserve(session, "relay-teams", idempotency_key, fingerprint)
            if replay is not None:
                return replay
            status, answer = await _enter(session, ctx, body, now)
            return await remember(session, "relay-teams", idempotency_key, status, answer)
    except capacity.CapacityFull:
        raise Problem(409, "Relay full", "No team place is left.", reason="distance_full") from None


async def _enter(
    session: AsyncSession, ctx: Context, body: RelayTeamCreate, now: dt.datetime
) -> tuple[int, dict[str, Any]]:
    edition = ctx.edition
    relay = edition.relay
    try:
        rules.check_window(edition, now)
        on = await entries.competition_date(session, edition)
        for runner in body.runners:
            age = rules.exact_age(runner.birth_date, on)
            if age < edition.minimum_age:
                raise Refusal(
                    "under_minimum_age",
                    "5.1",
                    f"{runner.first_name} {runner.last_name} will be {age}; the minimum is "
                    f"{edition.minimum_age}.",
                )
            person = rules.person_key(runner.first_name, runner.last_name, runner.birth_date)
            if await entries.is_banned(session, person, edition.code):
                raise Refusal(
                    "banned", "7.11", f"{runner.first_name} {runner.last_name} is banned."
                )
    except Refusal as refusal:
        status = 409 if refusal.reason == "registration_closed" else 422
        status = 403 if refusal.reason == "banned" else status
        return status, {
            "type": f"https://copa.run/problems/{refusal.reason.replace('_', '-')}",
            "title": "Relay team refused",
            "status": status,
            "detail": refusal.detail,
            "reason": refusal.reason,
            "clause": refusal.clause,
        }
    token, token_hash = entries.new_token()
    members = [
        {
            "member_id": str(uuid.uuid4()),
            "leg": leg,
            "leg_distance_m": relay.legs_m[leg - 1],
            "first_name": r.first_name,
            "last_name": r.last_name,
            "gender": r.gender,
            "birth_date": r.birth_date.isoformat(),
            "email": r.email,
        }
        for leg, r in enumerate(body.runners, start=1)
    ]
    captain = {
        "first_name": body.captain_first_name,
        "last_name": body.captain_last_name,
        "email": body.captain_email,
        "phone": body.captain_phone,
        "language": body.language,
    }
    expires = now + dt.timedelta(minutes=edition.registration.hold_minutes)
    team = (
        await session.execute(
            text(
                """INSERT INTO relay_teams (id, token_hash, edition, team_name, captain, members,
                fee_kzt, status, hold_expires_at, created_at, updated_at) VALUES (:id, :h, :e,
                :name, CAST(:captain AS jsonb), CAST(:members AS jsonb), :fee, 'held', :exp,
                :now, :now) RETURNING *"""
            ),
            {
                "id": uuid.uuid4(),
                "h": token_hash,
                "e": edition.code,
                "name": body.team_name,
                "captain": json.dumps(captain),
                "members": json.dumps(members),
                "fee": relay.team_fee_kzt,
                "exp": expires,
                "now": now,
            },
        )
    ).one()
    return 201, {**_view(team, now), "personal_token": token}


async def _owned_team(
    session: AsyncSession, team_id: uuid.UUID, token: str | None, *, lock: bool = False
) -> Row[Any]:
    team = (
        await session.execute(
            text("SELECT * FROM relay_teams WHERE id = :id" + (" FOR UPDATE" if lock else "")),
            {"id": team_id},
        )
    ).first()
    if (
        team is None
        or token is None
        or not hmac.compare_digest(team.token_hash, entries.hash_token(token))
    ):
        raise Problem(404, "Not Found", "No relay team with that ID and personal token.")
    return team


@router.get("/relay-teams/{team_id}", summary="The team's entry (needs its personal token)")
async def team_state(
    team_id: uuid.UUID, session: Session, ctx: Ctx, token: Token = None
) -> dict[str, Any]:
    return _view(await _owned_team(session, team_id, token), ctx.clock.now())


@router.post(
    "/relay-teams/{team_id}/payments", status_code=201, summary="Start paying the team fee"
)
async def start_team_payment(
    team_id: uuid.UUID,
    request: Request,
    session: Session,
    ctx: Ctx,
    token: Token = None,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    now = ctx.clock.now()
    team = await _owned_team(session, team_id, token, lock=True)
    scope = f"relay-payments:{team_id}"
    replay = await replay_or_reserve(
        session, scope, idempotency_key, request_hash(scope, await request.body())
    )
    if replay is not None:
        return replay
    if team.status != "held" or team.hold_expires_at <= now:
        raise Problem(409, "Nothing to pay", f"The team entry is {team.status}.")
    payment_id = uuid.uuid4()
    await session.execute(
        text(
            """INSERT INTO payments (id, purpose, relay_team_id, amount_kzt, provider, status,
            created_at) VALUES (:id, 'relay', :team, :amount, :provider, 'started', :now)"""
        ),
        {
            "id": payment_id,
            "team": team.id,
            "amount": team.fee_kzt,
            "provider": ctx.settings.payment_provider,
            "now": now,
        },
    )
    started = {"payment_id": payment_id, "amount_kzt": team.fee_kzt, "purpose": "relay"}
    return await remember(session, scope, idempotency_key, 201, checkout(request, ctx, started))


async def pay_relay_team(
    session: AsyncSession, ctx: Context, team_id: uuid.UUID, now: dt.datetime, amount_kzt: int
) -> Outcome:
    team = (
        await session.execute(
            text("SELECT * FROM relay_teams WHERE id = :id FOR UPDATE"), {"id": team_id}
        )
    ).first()
    if team is None:
        return Outcome("unmatched", "unknown_id")
    if team.status == "paid":
        return Outcome("unmatched", "already_paid")
    if (team.status == "held" and team.hold_expires_at <= now) or team.status == "expired":
        if await entries.room_for(session, ctx, [capacity.RELAY], now) is not None:
            return Outcome("unmatched", "hold_expired_sold_out")
    elif team.status != "held":
        return Outcome("unmatched", "not_payable")
    bib = await capacity.next_bib(session, capacity.RELAY)
    team = (
        await session.execute(
            text(
                """UPDATE relay_teams SET status = 'paid', bib = :bib, paid_at = :now,
                hold_expires_at = NULL, updated_at = :now WHERE id = :id RETURNING *"""
            ),
            {"bib": bib, "now": now, "id": team_id},
        )
    ).one()
    await entries.emit(
        session,
        topics.RELAY_TEAMS,
        RelayTeamRegistered(
            relay_team_id=team.id,
            registration_number=team.registration_number,
            edition=team.edition,
            team_name=team.team_name,
            contact=_contact(team),
            bib=bib,
            members=_members(team, bib),
            amount_kzt=amount_kzt,
            payment_method="online",
            paid_at=now,
        ),
    )
    return Outcome("applied")


@router.put(
    "/relay-teams/{team_id}/legs",
    summary="Change who runs which leg, until the entry deadline (RULES §8)",
)
async def change_leg_order(
    team_id: uuid.UUID, body: LegOrderChange, session: Session, ctx: Ctx, token: Token = None
) -> dict[str, Any]:
    now = ctx.clock.now()
    edition = ctx.edition
    team = await _owned_team(session, team_id, token, lock=True)
    deadline = edition.to_utc(edition.registration.closes_at_local)
    if now > deadline:
        raise Problem(
            409,
            "Leg order is final",
            f"Leg order could change until {edition.registration.closes_at_local} (RULES §8).",
        )
    current = {m["member_id"]: m for m in team.members}
    wanted = [str(m) for m in body.member_ids]
    if sorted(wanted) != sorted(current):
        raise Problem(422, "Not the team", "List each of the team's runners once.")
    members = [
        {**current[member_id], "leg": leg, "leg_distance_m": edition.relay.legs_m[leg - 1]}
        for leg, member_id in enumerate(wanted, start=1)
    ]
    team = (
        await session.execute(
            text(
                """UPDATE relay_teams SET members = CAST(:m AS jsonb), updated_at = :now
                WHERE id = :id RETURNING *"""
            ),
            {"m": json.dumps(members), "now": now, "id": team.id},
        )
    ).one()
    if team.status == "paid":
        await entries.emit(
            session,
            topics.RELAY_TEAMS,
            RelayLegOrderChanged(
                relay_team_id=team.id,
                registration_number=team.registration_number,
                edition=team.edition,
                team_name=team.team_name,
                contact=_contact(team),
                members=_members(team, team.bib),
                changed_at=now,
            ),
        )
    return _view(team, now)
