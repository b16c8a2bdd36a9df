"""Teams' HTTP API: team applications (reg 4.2.4), the public tables, the organizers' views.

Who may do what (ARCHITECTURE.md "Who may do what"; the regulations only say the form is
e-mailed to the organizers):

* Anyone may **submit** a team application (like registration, no login): the answer carries
  an ``application_token`` shown once. Whoever holds it is the team's representative and may
  read and **correct** the application until the deadline (header ``X-Application-Token``).
  An organizer's bearer token may do the same for any team (a form that arrived by e-mail).
* Everyone reads the tables (``/standings/...``, JSON or CSV, with ``ETag``).
* Organizers see incomplete and invalid applications and print the protocol.

Every refusal is an RFC 9457 problem whose ``errors`` name the entry (its 1-based line on the
form and its BIB), a code, the reason and the clause.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import secrets
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.responses import PlainTextResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from copa_runtime.app import get_session
from copa_runtime.auth import Principal, Role, decode_token, require_roles
from copa_runtime.problems import Problem
from copa_teams import engine
from copa_teams.edition import RELAY, classification_codes, current_edition
from copa_teams.models import published_tables, team_applications, team_entries
from copa_teams.tables import (
    StoredApplication,
    check_all,
    load_applications,
    participants_by_bib,
    recompute,
)

router = APIRouter()
Session = Annotated[AsyncSession, Depends(get_session, scope="function")]
Organizer = Annotated[Principal, Depends(require_roles(Role.ORGANIZER))]
_bearer = HTTPBearer(auto_error=False)

TeamName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


# --- schemas -------------------------------------------------------------------------------


class EntryIn(BaseModel):
    """One line of the form (reg 4.2.4: full name, BIB, declared distance)."""

    full_name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
    ]
    bib: int = Field(ge=1)
    distance: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    gender: Literal["M", "F"] | None = Field(
        default=None, description="Optional; checked against the registered gender if given."
    )


class ApplicationIn(BaseModel):
    team_name: TeamName
    classification: Annotated[str, StringConstraints(min_length=1, max_length=32)] = Field(
        description="`sprint` (100 m) or `medium` (1000 m and 3000 m), reg 4.2.4."
    )
    entries: list[EntryIn] = Field(
        max_length=40, description="5 men's and 5 women's results (reg 4.2.4)."
    )


class FindingOut(BaseModel):
    entry: int | None = Field(description="1-based line of the form; none for the team.")
    bib: int | None
    code: str
    reason: str
    clause: str


class ApplicationOut(BaseModel):
    id: uuid.UUID
    team_name: str
    classification: str
    state: Literal["complete", "incomplete", "invalid"] = Field(
        description="complete: classified; incomplete: fewer results than 5+5; invalid: an "
        "entry no longer matches the participants (e.g. a distance change, reg 7.6)."
    )
    findings: list[FindingOut]
    entries: list[EntryIn]
    applications_until: datetime
    application_token: str | None = Field(
        default=None, description="Shown once, on creation: the representative's key."
    )


# --- helpers -------------------------------------------------------------------------------


def _findings(findings: tuple[engine.Finding, ...]) -> list[FindingOut]:
    return [
        FindingOut(entry=f.entry, bib=f.bib, code=f.code, reason=f.reason, clause=f.clause)
        for f in findings
    ]


def _rules(classification: str) -> engine.ClassificationRules:
    try:
        return engine.ClassificationRules.of(current_edition(), classification)
    except KeyError:
        codes = [c.code for c in current_edition().teams.classifications]
        raise Problem(
            422,
            "Unknown classification",
            f"{classification!r} is not a team classification of this edition: {codes}.",
            type_="unknown-classification",
        ) from None


def _name_key(team_name: str) -> str:
    return " ".join(team_name.casefold().split())


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def _lock(session: AsyncSession, classification: str) -> None:
    """Serialize writes to one classification: "a person in one team only" holds under
    concurrent applications (the same lock the recomputation takes)."""
    await session.execute(
        text(
            "INSERT INTO published_tables (classification, revision) VALUES (:c, 0) "
            "ON CONFLICT DO NOTHING"
        ),
        {"c": classification},
    )
    await session.execute(
        select(published_tables.c.revision)
        .where(published_tables.c.classification == classification)
        .with_for_update()
    )


async def _check(
    session: AsyncSession,
    rules: engine.ClassificationRules,
    body: ApplicationIn,
    exclude: uuid.UUID | None,
) -> engine.Verdict:
    now = datetime.now(UTC)
    if now > rules.applications_until:
        raise Problem(
            409,
            "Team applications are closed",
            f"Applications and corrections were accepted until "
            f"{rules.applications_until.isoformat()} (reg 4.2.4: before 03 March).",
            type_="team-applications-closed",
            clause="4.2.4",
        )
    others = [a for a in await load_applications(session, rules.code) if a.id != exclude]
    declared = [
        engine.EntryDeclaration(e.full_name, e.bib, e.distance, e.gender) for e in body.entries
    ]
    bibs = [e.bib for e in declared] + [e.bib for a in others for e in a.entries]
    runners = await participants_by_bib(session, bibs)
    persons = {
        runners[e.bib].person_key: other.team_name
        for other in others
        for e in other.entries
        if e.bib in runners
    }
    verdict = engine.check_application(rules, declared, runners, persons, now=now)
    if verdict.refusals:
        raise Problem(
            422,
            "Team application refused",
            f"{len(verdict.refusals)} problem(s); each names its entry (line of the form).",
            type_="team-application-refused",
            errors=[f.model_dump() for f in _findings(verdict.refusals)],
        )
    same_name = select(team_applications.c.id).where(
        team_applications.c.classification == rules.code,
        team_applications.c.name_key == _name_key(body.team_name),
    )
    if exclude is not None:
        same_name = same_name.where(team_applications.c.id != exclude)
    taken = await session.scalar(same_name)
    if taken is not None:
        raise Problem(
            409,
            "Team name taken",
            f"A team named {body.team_name!r} already applied for {rules.name}.",
            type_="team-name-taken",
        )
    return verdict


async def _store_entries(session: AsyncSession, app_id: uuid.UUID, body: ApplicationIn) -> None:
    await session.execute(delete(team_entries).where(team_entries.c.application_id == app_id))
    if body.entries:
        await session.execute(
            team_entries.insert(),
            [
                {
                    "application_id": app_id,
                    "line": line,
                    "full_name": e.full_name,
                    "bib": e.bib,
                    "distance": e.distance,
                    "gender": e.gender,
                }
                for line, e in enumerate(body.entries, start=1)
            ],
        )


def _out(
    app_id: uuid.UUID,
    body: ApplicationIn,
    rules: engine.ClassificationRules,
    verdict: engine.Verdict,
    token: str | None = None,
) -> ApplicationOut:
    state = verdict.state
    return ApplicationOut(
        id=app_id,
        team_name=body.team_name,
        classification=rules.code,
        state="invalid" if state == "refused" else state,
        findings=_findings(verdict.findings),
        entries=body.entries,
        applications_until=rules.applications_until,
        application_token=token,
    )


async def _organizer(request: Request, credentials: HTTPAuthorizationCredentials | None) -> bool:
    if credentials is None:
        return False
    principal = decode_token(credentials.credentials, request.app.state.settings.jwt_secret)
    return Role.ORGANIZER in principal.roles


async def _authorize(
    session: AsyncSession,
    request: Request,
    app_id: uuid.UUID,
    token: str | None,
    credentials: HTTPAuthorizationCredentials | None,
) -> Any:
    row = (
        await session.execute(select(team_applications).where(team_applications.c.id == app_id))
    ).first()
    if row is None:
        raise Problem(404, "No such team application", type_="not-found")
    if await _organizer(request, credentials):
        return row
    if token is not None and hmac.compare_digest(_digest(token), row.token_sha256):
        return row
    raise Problem(
        403,
        "Not this team's representative",
        "Send the application's `X-Application-Token`, or an organizer's bearer token.",
        type_="forbidden",
    )


async def _checked(session: AsyncSession, classification: str) -> list[Any]:
    rules = engine.ClassificationRules.of(current_edition(), classification)
    applications = await load_applications(session, classification)
    runners = await participants_by_bib(session, (e.bib for a in applications for e in a.entries))
    return [(rules, item) for item in check_all(rules, applications, runners)]


def _stored_out(
    rules: engine.ClassificationRules, app: StoredApplication, verdict: engine.Verdict
) -> ApplicationOut:
    body = ApplicationIn(
        team_name=app.team_name,
        classification=app.classification,
        entries=[
            EntryIn(full_name=e.full_name, bib=e.bib, distance=e.distance, gender=e.gender)
            for e in app.entries
        ],
    )
    return _out(app.id, body, rules, verdict)


# --- applications --------------------------------------------------------------------------


@router.post(
    "/team-applications",
    status_code=201,
    response_model=ApplicationOut,
    tags=["team applications"],
    summary="Submit a team application (reg 4.2.4); no login",
)
async def submit_application(
    body: ApplicationIn,
    request: Request,
    session: Session,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)] = None,
) -> ApplicationOut:
    """Checked at once against the paid participants; refused with every entry's reason, or
    stored (``complete``, or ``incomplete`` while it has fewer than 5+5 results)."""
    rules = _rules(body.classification)
    await _lock(session, rules.code)
    verdict = await _check(session, rules, body, exclude=None)
    app_id, token = uuid.uuid4(), secrets.token_urlsafe(24)
    actor = "organizer" if await _organizer(request, credentials) else "representative"
    await session.execute(
        team_applications.insert().values(
            id=app_id,
            classification=rules.code,
            team_name=body.team_name,
            name_key=_name_key(body.team_name),
            token_sha256=_digest(token),
            created_by=actor,
            updated_by=actor,
        )
    )
    await _store_entries(session, app_id, body)
    await recompute(session, {rules.code})
    return _out(app_id, body, rules, verdict, token)


@router.put(
    "/team-applications/{app_id}",
    response_model=ApplicationOut,
    tags=["team applications"],
    summary="Correct a team application until the deadline (reg 4.2.4)",
)
async def correct_application(
    app_id: uuid.UUID,
    body: ApplicationIn,
    request: Request,
    session: Session,
    x_application_token: Annotated[str | None, Header()] = None,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)] = None,
) -> ApplicationOut:
    row = await _authorize(session, request, app_id, x_application_token, credentials)
    if body.classification != row.classification:
        raise Problem(
            422,
            "Classification cannot change",
            f"This application is for {row.classification!r}; apply anew for another.",
            type_="classification-fixed",
        )
    rules = _rules(row.classification)
    await _lock(session, rules.code)
    verdict = await _check(session, rules, body, exclude=app_id)
    actor = "organizer" if await _organizer(request, credentials) else "representative"
    await session.execute(
        team_applications.update()
        .where(team_applications.c.id == app_id)
        .values(
            team_name=body.team_name,
            name_key=_name_key(body.team_name),
            updated_by=actor,
            updated_at=datetime.now(UTC),
        )
    )
    await _store_entries(session, app_id, body)
    await recompute(session, {rules.code})
    return _out(app_id, body, rules, verdict)


@router.get(
    "/team-applications/{app_id}",
    response_model=ApplicationOut,
    tags=["team applications"],
    summary="Read a team application and its state",
)
async def read_application(
    app_id: uuid.UUID,
    request: Request,
    session: Session,
    x_application_token: Annotated[str | None, Header()] = None,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)] = None,
) -> ApplicationOut:
    row = await _authorize(session, request, app_id, x_application_token, credentials)
    for rules, item in await _checked(session, row.classification):
        if item.application.id == app_id:
            return _stored_out(rules, item.application, item.verdict)
    raise Problem(404, "No such team application", type_="not-found")


# --- organizers ----------------------------------------------------------------------------


@router.get(
    "/organizer/team-applications",
    response_model=list[ApplicationOut],
    tags=["organizers"],
    summary="Team applications and what is wrong with them (default: incomplete and invalid)",
)
async def list_applications(
    _: Organizer,
    session: Session,
    classification: str | None = None,
    state: Literal["complete", "incomplete", "invalid", "all", "problems"] = "problems",
) -> list[ApplicationOut]:
    codes = [c.code for c in current_edition().teams.classifications]
    if classification is not None:
        codes = [_rules(classification).code]
    found = []
    for code in codes:
        for rules, item in await _checked(session, code):
            out = _stored_out(rules, item.application, item.verdict)
            wanted = (
                state == "all"
                or (state == "problems" and out.state != "complete")
                or out.state == state
            )
            if wanted:
                found.append(out)
    return sorted(found, key=lambda a: (a.classification, a.team_name.casefold()))


@router.get(
    "/organizer/protocol/{classification}",
    response_class=PlainTextResponse,
    tags=["organizers"],
    summary="The classification's protocol, printable (plain text)",
)
async def protocol(classification: str, _: Organizer, session: Session) -> PlainTextResponse:
    row = await _table_row(session, classification)
    if row is None or row.document is None:
        waiting = ", ".join(row.waiting_for or []) if row is not None else ""
        raise Problem(
            409,
            "No table yet",
            "Nothing has been classified yet" + (f"; waiting for {waiting}." if waiting else "."),
            type_="no-table-yet",
        )
    edition = current_edition()
    document = row.document
    lines = [
        edition.name,
        f"{edition.venue.name}, {edition.date.isoformat()}",
        "",
        f"{document['name'].upper()} — "
        + (
            "RELAY STANDINGS AND PRIZES (RULES §8)"
            if classification == RELAY
            else "TEAM CLASSIFICATION (reg 4.2.4)"
        ),
        f"Status: {document['status'].upper()}"
        + ("" if document["status"] == "official" else " — NOT FINAL")
        + f"   Revision {row.revision}   Published {row.published_at:%Y-%m-%d %H:%M} UTC",
    ]
    if row.waiting_for:
        lines.append(
            f"INCOMPLETE: no standings yet for {', '.join(row.waiting_for)}; entries there are "
            "pending, and teams are ranked on points only against teams with as many entries "
            "scored."
        )
    lines.append("")
    if classification == RELAY:
        lines.append(f"{'Place':>5}  {'BIB':>5}  {'Team':<32} {'Time':>9}  {'Prize, KZT':>11}")
        for team in document["standings"]:
            place = str(team["place"]) if team["place"] else team["status"]
            lines.append(
                f"{place:>5}  {team['bib']:>5}  {team['team_name'][:32]:<32} "
                f"{format_time(team['official_time_us']):>9}  {team['prize_kzt']:>11,}"
            )
    else:
        for team in document["standings"]:
            last = team["last_scorer_points"]
            pending = team["pending_entries"]
            lines.append(
                f"{team['place']:>3}. {team['team_name']}   {team['points']} points "
                f"(points of the last scorer: {'-' if last is None else last})"
                + (f", {pending} entries pending" if pending else "")
            )
            for entry in team["entries"]:
                result = f"place {entry['place']}" if entry["place"] else entry["status"]
                points = "" if entry["points"] is None else entry["points"]
                lines.append(
                    f"       {entry['bib']:>5}  {entry['full_name'][:32]:<32} "
                    f"{entry['distance']:>6} {entry['gender']}  {result:<10} "
                    f"{points:>4}{'  penalty (entrants + 2)' if entry['penalty'] else ''}"
                )
            if team["tie_break"]:
                lines.append(f"       Tie-break: {team['tie_break']}")
            lines.append("")
        unclassified = [
            item
            for _rules_, item in await _checked(session, classification)
            if item.verdict.state != "complete"
        ]
        if unclassified:
            lines.append("Not classified:")
            for item in unclassified:
                reasons = "; ".join(f.reason for f in item.verdict.findings)
                lines.append(f"  {item.application.team_name}: {reasons}")
    lines += ["", "Chief Judge: ____________________    Chief Scorer: ____________________", ""]
    return PlainTextResponse("\n".join(lines))


def format_time(us: int | None) -> str:
    """A shown time, ``m:ss.cc`` (official times are already rounded up to 1/100 s)."""
    if us is None:
        return ""
    hundredths = us // 10_000
    minutes, rest = divmod(hundredths, 6000)
    return f"{minutes}:{rest // 100:02d}.{rest % 100:02d}"


# --- public tables -------------------------------------------------------------------------


async def _table_row(session: AsyncSession, classification: str) -> Any:
    if classification not in classification_codes():
        raise Problem(
            404,
            "No such classification",
            f"Known: {', '.join(classification_codes())}.",
            type_="not-found",
        )
    return (
        await session.execute(
            select(published_tables).where(published_tables.c.classification == classification)
        )
    ).first()


def _document(classification: str, row: Any) -> dict[str, Any]:
    if row is None or row.document is None:
        return {
            "classification": classification,
            "edition": current_edition().code,
            "status": None,
            "revision": 0,
            "standings": [],
            "waiting_for": list(row.waiting_for or []) if row is not None else [],
        }
    return {**row.document, "revision": row.revision, "waiting_for": list(row.waiting_for or [])}


def _etag(classification: str, row: Any, representation: str) -> str:
    revision = row.revision if row is not None else 0
    digest = (row.content_sha256 or "none")[:16] if row is not None else "none"
    waiting = ",".join(row.waiting_for or []) if row is not None else ""
    tail = hashlib.sha256(waiting.encode()).hexdigest()[:8]
    return f'"{classification}-{revision}-{digest}-{tail}-{representation}"'


def _not_modified(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    candidates = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in candidates or etag in candidates


@router.get("/standings", tags=["public"], summary="The classifications and their state")
async def list_tables(session: Session) -> list[dict[str, Any]]:
    rows = {
        row.classification: row for row in (await session.execute(select(published_tables))).all()
    }
    return [
        {
            "classification": code,
            "status": rows[code].status if code in rows else None,
            "revision": rows[code].revision if code in rows else 0,
            "json": f"/standings/{code}",
            "csv": f"/standings/{code}.csv",
        }
        for code in classification_codes()
    ]


@router.get(
    "/standings/{classification}.csv",
    tags=["public"],
    summary="A team classification or the relay standings as CSV",
    response_class=Response,
)
async def table_csv(
    classification: str,
    session: Session,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    row = await _table_row(session, classification)
    etag = _etag(classification, row, "csv")
    headers = {"ETag": etag, "Cache-Control": "public, max-age=5"}
    if _not_modified(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    document = _document(classification, row)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if classification == RELAY:
        writer.writerow(
            [
                "place",
                "bib",
                "team_name",
                "status",
                "official_time",
                "official_time_us",
                "prize_kzt",
            ]
        )
        for team in document["standings"]:
            writer.writerow(
                [
                    team["place"] or "",
                    team["bib"],
                    team["team_name"],
                    team["status"],
                    format_time(team["official_time_us"]),
                    team["official_time_us"] if team["official_time_us"] is not None else "",
                    team["prize_kzt"],
                ]
            )
    else:
        writer.writerow(
            [
                "place",
                "team_name",
                "team_points",
                "last_scorer_points",
                "bib",
                "full_name",
                "distance",
                "gender",
                "entry_place",
                "entry_status",
                "entry_points",
                "penalty",
                "tie_break",
                "team_pending_entries",
            ]
        )
        for team in document["standings"]:
            for entry in team["entries"]:
                writer.writerow(
                    [
                        team["place"],
                        team["team_name"],
                        team["points"],
                        "" if team["last_scorer_points"] is None else team["last_scorer_points"],
                        entry["bib"],
                        entry["full_name"],
                        entry["distance"],
                        entry["gender"],
                        entry["place"] or "",
                        entry["status"],
                        "" if entry["points"] is None else entry["points"],
                        "yes" if entry["penalty"] else "no",
                        team["tie_break"] or "",
                        team["pending_entries"],
                    ]
                )
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)


@router.get(
    "/standings/{classification}",
    tags=["public"],
    summary="A team classification (`sprint`, `medium`) or the relay standings (`relay`)",
)
async def table_json(
    classification: str,
    session: Session,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """The table as last published. A team line has its ``points`` (the sum of its entries'
    points, reg 4.2.4), ``last_scorer_points`` (points of the last scorer, i.e. of its
    worst-scoring entry, a penalty included: the tie-break of RULES §7) and its entries.

    While the competition runs the table is ``provisional`` and shown as soon as any standings
    it sums has come; ``waiting_for`` names those still to come. Until then their entries are
    ``pending`` (no place, no points), ``pending_entries`` counts them, ``points`` is the sum
    of the scored entries, and teams are ranked on points only against teams with as many
    entries scored (those with more come first). ``official`` once every standings it sums is
    official."""
    row = await _table_row(session, classification)
    etag = _etag(classification, row, "json")
    headers = {"ETag": etag, "Cache-Control": "public, max-age=5"}
    if _not_modified(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    return Response(
        json.dumps(_document(classification, row), ensure_ascii=False),
        media_type="application/json",
        headers=headers,
    )
