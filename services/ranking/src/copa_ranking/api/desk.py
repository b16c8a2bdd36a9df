"""The organizers' and judges' desk: the draw, the schedule, decisions, confirmation, protests.

Every decision is stored with who made it and why, and the race is recomputed at once; a
decision on an official race is a correction and only the chief judge makes it (reg 15.2).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from copa_contracts import topics
from copa_contracts.common import Contact
from copa_contracts.ranking import JudgesExceptionResolved, ProtestAnswered, ProtestReceived
from copa_ranking import draw as drawing
from copa_ranking.engine import EngineError, RaceGroup, parse_duration_us
from copa_ranking.race_day import _jsonb, confirm_race, edition, load_race, recompute_race
from copa_runtime.app import get_session
from copa_runtime.auth import Principal, Role, require_roles
from copa_runtime.outbox import add_event
from copa_runtime.problems import Problem

router = APIRouter()
Session = Annotated[AsyncSession, Depends(get_session, scope="function")]
Organizer = Annotated[Principal, Depends(require_roles(Role.ORGANIZER))]
Judge = Annotated[Principal, Depends(require_roles(Role.JUDGE, Role.CHIEF_JUDGE))]
ChiefJudge = Annotated[Principal, Depends(require_roles(Role.CHIEF_JUDGE))]
Protester = Annotated[Principal, Depends(require_roles(Role.PARTICIPANT, Role.ORGANIZER))]


def _refused(title: str, detail: str, status: int = 409) -> Problem:
    return Problem(status, title, detail, type_="ranking-refused")


# --- organizer: the draw and the schedule ---------------------------------------------------


class DrawIn(BaseModel):
    seed: str | None = Field(
        default=None, max_length=64, description="Seed of the draw; a random one is recorded."
    )


class ScheduledRaceOut(BaseModel):
    number: int
    group: str
    round: str
    heat_number: int
    starts_at: dt.datetime
    ends_at: dt.datetime


class DrawOut(BaseModel):
    seed: str
    groups: int
    races: int
    fits: bool
    report: str = Field(description="What does not fit in the edition's hours (RULES §5).")
    schedule: list[ScheduledRaceOut]


class StartersOut(BaseModel):
    participants: int = Field(description="Paid participants with a BIB on the roster.")
    confirmed: int = Field(description="Of them, starters with a chip (reg 8) and no ban.")
    banned: int = Field(description="Participants banned from the competition (reg 7.11).")
    relay_teams: int = Field(
        description="Paid relay teams with a chip for every runner: they start (RULES §8)."
    )


@router.get("/organizer/starters", response_model=StartersOut, tags=["organizer"])
async def starters(session: Session, who: Organizer) -> StartersOut:
    """How many would start if entries closed now: what an organizer checks before the draw
    (the roster fills from registration's events, so the kit desk's last kits may lag)."""
    row = (
        await session.execute(
            text(
                "SELECT count(*) FILTER (WHERE bib IS NOT NULL) AS participants, "
                "count(*) FILTER (WHERE bib IS NOT NULL AND chip IS NOT NULL "
                "AND category IS NOT NULL AND ban IS NULL) AS confirmed, "
                "count(*) FILTER (WHERE ban IS NOT NULL) AS banned FROM roster"
            )
        )
    ).one()
    relay_teams = await session.scalar(
        text(
            # as the draw counts them (draw.py): a chip for every leg (RULES §8)
            "SELECT count(*) FROM relay_teams WHERE edition = :e "
            "AND (SELECT count(*) FROM jsonb_object_keys(chips)) = :legs"
        ),
        {"e": edition().code, "legs": len(edition().relay.legs_m)},
    )
    return StartersOut(
        participants=row.participants,
        confirmed=row.confirmed,
        banned=row.banned,
        relay_teams=relay_teams or 0,
    )


@router.post("/organizer/draw", response_model=DrawOut, tags=["organizer"])
async def close_entries_and_draw(body: DrawIn, session: Session, who: Organizer) -> DrawOut:
    """Close entries and draw every group into races and lanes, and lay out the day."""
    try:
        outcome = await drawing.draw_day(session, who.subject, body.seed)
    except drawing.DrawRefused as refused:
        raise _refused("Draw refused", str(refused)) from None
    return DrawOut(
        seed=outcome.seed,
        groups=outcome.groups,
        races=outcome.races,
        fits=outcome.schedule.fits,
        report=outcome.schedule.report(),
        schedule=[
            ScheduledRaceOut(
                number=r.number,
                group=str(r.group),
                round=r.round,
                heat_number=r.heat_number,
                starts_at=r.starts_at,
                ends_at=r.ends_at,
            )
            for r in outcome.schedule.races
        ],
    )


@router.post("/organizer/schedule/publish", tags=["organizer"])
async def publish_schedule(session: Session, who: Organizer) -> dict[str, int]:
    """Publish the start lists with their times: the public and the runners see them."""
    return {"published": await drawing.publish_schedule(session, who.subject)}


class RedrawIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)
    seed: str | None = Field(default=None, max_length=64)


@router.post("/organizer/groups/{distance}/{gender}/{category}/redraw", tags=["organizer"])
async def redraw(
    distance: str,
    gender: Literal["M", "F"],
    category: str,
    body: RedrawIn,
    session: Session,
    who: Organizer,
) -> dict[str, Any]:
    """Draw one group again before any of its races started (audited, RULES §5)."""
    try:
        draw = await drawing.redraw_group(
            session, RaceGroup(distance, gender, category), who.subject, body.reason, body.seed
        )
    except drawing.DrawRefused as refused:
        raise _refused("Re-draw refused", str(refused)) from None
    return {"seed": draw.seed, "races": [list(r.bibs) for r in draw.races]}


# --- judges: the exception queue ----------------------------------------------------------


class ExceptionOut(BaseModel):
    exception_id: uuid.UUID
    kind: str
    race_id: uuid.UUID | None
    chip: str | None
    bib: int | None
    detail: str
    raised_at: dt.datetime
    resolution: str | None
    note: str | None


@router.get("/judges/exceptions", response_model=list[ExceptionOut], tags=["judges"])
async def exceptions(
    session: Session, who: Judge, open_only: bool = Query(True, alias="open")
) -> list[ExceptionOut]:
    """The judges' queue: what the engine would not decide alone (reg 11.3.8)."""
    rows = await session.execute(
        text(
            "SELECT exception_id, kind, race_id, chip, bib, detail, raised_at, resolution, note "
            "FROM judges_exceptions WHERE (NOT :open OR resolution IS NULL) ORDER BY raised_at"
        ),
        {"open": open_only},
    )
    return [ExceptionOut(**row._mapping) for row in rows]


class ResolveIn(BaseModel):
    resolution: Literal["assigned", "manual_time", "status_set", "dismissed"]
    note: str = Field(min_length=1, max_length=2000)


@router.post("/judges/exceptions/{exception_id}/resolve", tags=["judges"])
async def resolve_exception(
    exception_id: uuid.UUID, body: ResolveIn, session: Session, who: Judge
) -> dict[str, str]:
    row = (
        await session.execute(
            text(
                "UPDATE judges_exceptions SET resolution = :r, note = :n, resolved_by = :w, "
                "resolved_at = now() WHERE exception_id = :i AND resolution IS NULL "
                "RETURNING race_id"
            ),
            {"r": body.resolution, "n": body.note, "w": who.subject, "i": exception_id},
        )
    ).first()
    if row is None:
        raise Problem(404, "No open exception", f"{exception_id} is unknown or resolved")
    event = JudgesExceptionResolved(
        exception_id=exception_id,
        race_id=row.race_id,
        resolution=body.resolution,
        note=body.note,
        resolved_by=who.subject,
        resolved_at=dt.datetime.now(dt.UTC),
    )
    await add_event(session, topics.JUDGES_EXCEPTIONS, event, key=str(exception_id))
    return {"status": "resolved"}


# --- judges: decisions on a race ----------------------------------------------------------


class DecisionIn(BaseModel):
    """One judges' decision on a race (RULES §6: a manual time beats photo and chip)."""

    kind: Literal["manual_time", "clear_manual_time", "ruling", "clear_ruling", "finish_order"]
    bib: int | None = Field(default=None, ge=1)
    gun_time: str | None = Field(default=None, description="`m:ss.ff`, `h:mm:ss.ffffff`, s.")
    net_time: str | None = None
    status: Literal["DNS", "DNF", "DQ"] | None = None
    rule: str | None = Field(default=None, max_length=32, description="The rule of a DQ.")
    bibs: list[int] | None = Field(default=None, description="A finish order, first first.")
    reason: str = Field(min_length=1, max_length=2000)

    @model_validator(mode="after")
    def _complete(self) -> DecisionIn:
        if self.kind != "finish_order" and self.bib is None:
            raise ValueError(f"a {self.kind} decision names its BIB")
        if self.kind == "manual_time" and not self.gun_time:
            raise ValueError("a manual time gives the gun time")
        if self.kind == "ruling" and self.status is None:
            raise ValueError("a ruling gives DNS, DNF or DQ")
        if self.kind == "ruling" and (self.status == "DQ") != bool(self.rule):
            raise ValueError("a DQ names its rule, and only a DQ does (reg 11.4)")
        if self.kind == "finish_order" and not self.bibs:
            raise ValueError("a finish order lists BIBs")
        return self


def _payload(decision: DecisionIn) -> dict[str, Any]:
    try:
        if decision.kind == "manual_time":
            return {
                "gun_time_us": parse_duration_us(decision.gun_time or ""),
                "net_time_us": parse_duration_us(decision.net_time) if decision.net_time else None,
            }
    except EngineError as bad:
        raise Problem(422, "Bad time", str(bad)) from None
    if decision.kind == "ruling":
        return {"status": decision.status, "rule": decision.rule}
    if decision.kind == "finish_order":
        return {"bibs": decision.bibs}
    return {}


async def apply_decision(
    session: AsyncSession,
    race_id: uuid.UUID,
    decision: DecisionIn,
    who: Principal,
    protest_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    race = await load_race(session, race_id, lock=True)
    if race is None:
        raise Problem(404, "No such race", f"race {race_id} is not in the draw")
    if race.result_status == "official" and Role.CHIEF_JUDGE not in who.roles:
        raise Problem(
            403, "Race is official", "only the chief judge corrects an official race (15.2)"
        )
    listed = set(race.bibs)
    named = [decision.bib] if decision.bib is not None else list(decision.bibs or [])
    strangers = [b for b in named if b not in listed]
    if strangers:
        raise Problem(422, "Not in this race", f"BIB {strangers} not on the start list")
    await session.execute(
        text(
            "INSERT INTO decisions (decision_id, race_id, kind, bib, payload, reason, "
            "decided_by, protest_id) VALUES (:i, :r, :k, :b, CAST(:p AS jsonb), :why, :w, :pr)"
        ),
        {
            "i": uuid.uuid4(),
            "r": race_id,
            "k": decision.kind,
            "b": decision.bib,
            "p": _jsonb(_payload(decision)),
            "why": decision.reason,
            "w": who.subject,
            "pr": protest_id,
        },
    )
    try:
        changed = await recompute_race(
            session, race_id, actor=who.subject, reason=decision.reason, protest_id=protest_id
        )
    except EngineError as bad:
        raise Problem(422, "Decision does not fit the race", str(bad)) from None
    return {"changed": changed}


@router.post("/judges/races/{race_id}/decisions", tags=["judges"])
async def decide(
    race_id: uuid.UUID, body: DecisionIn, session: Session, who: Judge
) -> dict[str, Any]:
    """A manual time, DNS/DNF/DQ with its rule, or a finish order, with the reason."""
    return await apply_decision(session, race_id, body, who)


@router.post("/judges/races/{race_id}/close", tags=["judges"])
async def close_race(race_id: uuid.UUID, session: Session, who: Judge) -> dict[str, Any]:
    """The finish is closed: a runner still without a finish goes to the judges (11.3.8)."""
    updated = (
        await session.execute(
            text("UPDATE races SET closed = true WHERE race_id = :r RETURNING race_id"),
            {"r": race_id},
        )
    ).first()
    if updated is None:
        raise Problem(404, "No such race", f"race {race_id} is not in the draw")
    return {"changed": await recompute_race(session, race_id, actor=who.subject)}


@router.post("/judges/races/{race_id}/confirm", tags=["judges"])
async def confirm(race_id: uuid.UUID, session: Session, who: ChiefJudge) -> dict[str, Any]:
    """The chief judge confirms the race: results become official (reg 11.3.7, 15.2)."""
    try:
        race = await confirm_race(session, race_id, who.subject)
    except LookupError:
        raise Problem(404, "No such race", f"race {race_id} is not in the draw") from None
    except ValueError as refused:
        raise _refused("Cannot confirm", str(refused)) from None
    return {"status": race.result_status, "revision": race.result_revision}


# --- protests (reg 17) ----------------------------------------------------------------------


class ProtestIn(BaseModel):
    participant_id: uuid.UUID | None = Field(
        default=None, description="Only when an organizer records a protest received by mail."
    )
    full_name: str = Field(min_length=1, max_length=200, description="reg 17.2: full name.")
    race_id: uuid.UUID | None = None
    claim: str = Field(min_length=1, max_length=5000, description="reg 17.2: the claim.")
    evidence_url: str = Field(
        min_length=1,
        max_length=2000,
        description="reg 17.2: the grounds, a link to the photo or video record.",
    )


def _competition_ends() -> dt.date:
    return edition().date


@router.post("/protests", status_code=201, tags=["protests"])
async def file_protest(body: ProtestIn, session: Session, who: Protester) -> dict[str, Any]:
    """A participant's protest (reg 17): full name, claim, evidence; answered within 24 h."""
    if Role.PARTICIPANT in who.roles and Role.ORGANIZER not in who.roles:
        try:
            participant_id = uuid.UUID(who.subject)
        except ValueError:
            raise Problem(403, "Not a participant", "the token names no participant") from None
        if body.participant_id not in (None, participant_id):
            raise Problem(403, "Not yours", "a participant protests in their own name (17.4)")
    elif body.participant_id is None:
        raise Problem(422, "Whose protest", "an organizer names the participant (17.4)")
    else:
        participant_id = body.participant_id
    row = (
        await session.execute(
            text("SELECT full_name, contact FROM roster WHERE participant_id = :p"),
            {"p": participant_id},
        )
    ).first()
    if row is None or row.contact is None:
        raise Problem(403, "Not a participant", "only participants may protest (reg 17.4)")
    if " ".join(body.full_name.split()).casefold() != " ".join(row.full_name.split()).casefold():
        raise Problem(422, "Name does not match", "reg 17.2: the protest gives your full name")
    now = dt.datetime.now(dt.UTC)
    today = now.astimezone(edition().zone).date()
    last_day = _competition_ends() + dt.timedelta(days=edition().protests.window_days)
    if today > last_day:
        raise _refused("Too late", f"reg 17.2: protests are accepted until {last_day.isoformat()}")
    if body.race_id is not None and await load_race(session, body.race_id) is None:
        raise Problem(422, "No such race", f"race {body.race_id} is not in the draw")
    protest_id = uuid.uuid4()
    due = now + dt.timedelta(hours=edition().protests.answer_hours)
    await session.execute(
        text(
            "INSERT INTO protests (protest_id, participant_id, race_id, claim, evidence_url, "
            "received_at, answer_due_at) VALUES (:i, :p, :r, :c, :e, :at, :due)"
        ),
        {
            "i": protest_id,
            "p": participant_id,
            "r": body.race_id,
            "c": body.claim,
            "e": body.evidence_url,
            "at": now,
            "due": due,
        },
    )
    event = ProtestReceived(
        protest_id=protest_id,
        edition=edition().code,
        participant_id=participant_id,
        race_id=body.race_id,
        claim=body.claim,
        evidence_url=body.evidence_url,
        received_at=now,
        answer_due_at=due,
        contact=Contact(**row.contact),
    )
    await add_event(session, topics.PROTESTS, event, key=str(protest_id))
    return {"protest_id": protest_id, "answer_due_at": due}


@router.get("/judges/protests", tags=["protests"])
async def protests(session: Session, who: Judge) -> list[dict[str, Any]]:
    """Protests with their 24 h deadline (reg 17.3); ``overdue`` when it passed unanswered."""
    rows = await session.execute(
        text(
            "SELECT protest_id, participant_id, race_id, claim, evidence_url, received_at, "
            "answer_due_at, decision, answer, answered_at, "
            "(decision IS NULL AND answer_due_at < now()) AS overdue "
            "FROM protests ORDER BY answer_due_at"
        )
    )
    return [dict(row._mapping) for row in rows]


class ProtestAnswerIn(BaseModel):
    decision: Literal["upheld", "rejected", "not_considered"]
    answer: str = Field(min_length=1, max_length=5000)
    corrections: list[tuple[uuid.UUID, DecisionIn]] = Field(
        default_factory=list,
        description="For an upheld protest: [race_id, decision] pairs applied to the results.",
    )


@router.post("/judges/protests/{protest_id}/answer", tags=["protests"])
async def answer_protest(
    protest_id: uuid.UUID, body: ProtestAnswerIn, session: Session, who: ChiefJudge
) -> dict[str, Any]:
    """Answer a protest (reg 17.3); an upheld one corrects the results it names."""
    if body.corrections and body.decision != "upheld":
        raise Problem(422, "Nothing to correct", "only an upheld protest changes results")
    row = (
        await session.execute(
            text(
                "UPDATE protests SET decision = :d, answer = :a, answered_by = :w, "
                "answered_at = now() WHERE protest_id = :i AND decision IS NULL "
                "RETURNING participant_id, answer_due_at, answered_at"
            ),
            {"d": body.decision, "a": body.answer, "w": who.subject, "i": protest_id},
        )
    ).first()
    if row is None:
        raise Problem(404, "No open protest", f"{protest_id} is unknown or answered")
    changed = [
        await apply_decision(session, race_id, decision, who, protest_id)
        for race_id, decision in body.corrections
    ]
    contact = (
        await session.execute(
            text("SELECT contact FROM roster WHERE participant_id = :p"),
            {"p": row.participant_id},
        )
    ).scalar_one()
    event = ProtestAnswered(
        protest_id=protest_id,
        participant_id=row.participant_id,
        decision=body.decision,
        answer=body.answer,
        answered_by=who.subject,
        answered_at=row.answered_at,
        within_deadline=row.answered_at <= row.answer_due_at,
        contact=Contact(**contact),
    )
    await add_event(session, topics.PROTESTS, event, key=str(protest_id))
    return {"decision": body.decision, "corrections": changed}
