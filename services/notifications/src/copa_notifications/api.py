"""Notifications' HTTP API for organizers: the delivery log, previews, resend, announcements.

Every route needs the ``organizer`` role (ARCHITECTURE.md, "Who may do what"): the log shows
addresses, which nobody else may see (RULES §10).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from copa_contracts.common import CategoryCode, DistanceCode, Gender
from copa_notifications import editions
from copa_notifications.deliveries import Addressee, Mail, deliveries, insert_rows, record
from copa_notifications.models import Recipient, RelayCaptain
from copa_notifications.render import LANGUAGES, RenderError
from copa_notifications.samples import SAMPLES, sample_context
from copa_runtime.app import get_session
from copa_runtime.auth import Principal, Role, require_roles
from copa_runtime.errors import PermanentError
from copa_runtime.problems import Problem

router = APIRouter(tags=["notifications"])
Session = Annotated[AsyncSession, Depends(get_session, scope="function")]
Organizer = Annotated[Principal, Depends(require_roles(Role.ORGANIZER))]
recipients = Recipient.__table__  # type: ignore[attr-defined]
relay_captains = RelayCaptain.__table__  # type: ignore[attr-defined]

Status = Literal["pending", "sent", "gave_up"]


class DeliveryOut(BaseModel):
    delivery_id: uuid.UUID
    kind: str = Field(description="`event`, `reminder`, `announcement` or `resend`.")
    template: str
    trigger_event_id: uuid.UUID = Field(
        description="Event, reminder run or announcement that caused it."
    )
    trigger_event_type: str | None
    participant_id: uuid.UUID | None
    recipient: str
    language: str
    subject: str
    status: Status
    attempts: int
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime | None
    sent_at: datetime | None
    gave_up_at: datetime | None


class DeliveryDetail(DeliveryOut):
    body_text: str
    body_html: str
    smtp_message_id: str | None


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    total: int
    limit: int
    offset: int


def _out(row: Any, model: type[DeliveryOut] = DeliveryOut) -> Any:
    data = dict(row._mapping)
    data["trigger_event_id"] = data.pop("event_id")
    if data["status"] != "pending":
        data["next_attempt_at"] = None
    return model.model_validate(data)


@router.get("/deliveries", summary="The delivery log: who, what, when, outcome")
async def list_deliveries(
    session: Session,
    _: Organizer,
    status: Status | None = None,
    template: str | None = None,
    participant_id: uuid.UUID | None = None,
    recipient: str | None = Query(default=None, description="Exact address."),
    since: datetime | None = Query(default=None, description="Recorded at or after."),
    until: datetime | None = Query(default=None, description="Recorded before."),
    limit: int = Query(default=50, ge=1, le=500),
    offset: int = Query(default=0, ge=0),
) -> DeliveryPage:
    for name, instant in (("since", since), ("until", until)):
        if instant is not None and instant.tzinfo is None:
            # RULES §1: never guess an offset.
            raise Problem(
                422, "Instant without offset", f"Give `{name}` with an offset.", type_="naive-time"
            )
    conditions = []
    if status is not None:
        conditions.append(deliveries.c.status == status)
    if template is not None:
        conditions.append(deliveries.c.template == template)
    if participant_id is not None:
        conditions.append(deliveries.c.participant_id == participant_id)
    if recipient is not None:
        conditions.append(func.lower(deliveries.c.recipient) == recipient.lower())
    if since is not None:
        conditions.append(deliveries.c.created_at >= since)
    if until is not None:
        conditions.append(deliveries.c.created_at < until)
    total = await session.scalar(select(func.count()).select_from(deliveries).where(*conditions))
    columns = [c for c in deliveries.c if c.name not in ("body_text", "body_html", "id")]
    rows = (
        await session.execute(
            select(*columns)
            .where(*conditions)
            .order_by(deliveries.c.created_at.desc(), deliveries.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
    ).all()
    return DeliveryPage(
        items=[_out(r) for r in rows], total=int(total or 0), limit=limit, offset=offset
    )


async def _delivery(session: AsyncSession, delivery_id: uuid.UUID) -> Any:
    row = (
        await session.execute(select(deliveries).where(deliveries.c.delivery_id == delivery_id))
    ).first()
    if row is None:
        raise Problem(404, "No such delivery", f"No e-mail {delivery_id}.", type_="not-found")
    return row


@router.get("/deliveries/{delivery_id}", summary="One e-mail as it was sent")
async def get_delivery(session: Session, _: Organizer, delivery_id: uuid.UUID) -> DeliveryDetail:
    return _out(await _delivery(session, delivery_id), DeliveryDetail)  # type: ignore[no-any-return]


@router.post(
    "/deliveries/{delivery_id}/resend",
    status_code=202,
    summary="Send one e-mail again (a new delivery with the same content)",
)
async def resend(session: Session, who: Organizer, delivery_id: uuid.UUID) -> DeliveryOut:
    original = await _delivery(session, delivery_id)
    now = datetime.now(UTC)
    request_id = uuid.uuid4()  # each resend is a deliberate new message
    row = {
        "delivery_id": uuid.uuid5(request_id, str(delivery_id)),
        "event_id": request_id,
        "kind": "resend",
        "trigger_event_type": original.trigger_event_type,
        "participant_id": original.participant_id,
        "recipient": original.recipient,
        "template": original.template,
        "language": original.language,
        "subject": original.subject,
        "body_text": original.body_text,
        "body_html": original.body_html,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }
    await insert_rows(session, [row])
    return await get_delivery(session, who, row["delivery_id"])


class TemplatePreview(BaseModel):
    template: str
    language: str
    subject: str
    text: str
    html: str


@router.get("/templates", summary="The e-mails there are templates for")
async def list_templates(_: Organizer) -> list[str]:
    return editions.renderer(editions.default_edition()).templates()


@router.get("/templates/{template}/preview", summary="A template rendered with sample data")
async def preview(
    _: Organizer, template: str, language: Literal["ru", "kk", "en"] = "ru"
) -> TemplatePreview:
    if template not in SAMPLES:
        raise Problem(404, "No such template", f"No template {template!r}.", type_="not-found")
    try:
        rendered = editions.renderer(editions.default_edition()).render(
            template, language, sample_context(template)
        )
    except RenderError as exc:
        raise Problem(500, "Template failed to render", str(exc), type_="template-error") from exc
    return TemplatePreview(
        template=template,
        language=language,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
    )


class Wording(BaseModel):
    subject: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=20_000)


class Audience(BaseModel):
    """Who hears it: everyone entered, one distance, one category, or unpaid applicants.

    Relay teams are heard through their captains (RULES §8): in ``all`` and in the relay's
    distance, unless a gender is named (a relay team is mixed).
    """

    kind: Literal["all", "distance", "category", "unpaid"]
    distance: DistanceCode | None = None
    age_category: CategoryCode | None = None
    gender: Gender | None = None


class AnnouncementIn(BaseModel):
    announcement_id: uuid.UUID | None = Field(
        default=None, description="Send the same id again to retry without doubling anything."
    )
    audience: Audience
    messages: dict[Literal["ru", "kk", "en"], Wording] = Field(
        min_length=1,
        description="Wording per language; a recipient whose language is missing gets the "
        "first of ru, kk, en that is given.",
    )
    include_results_link: bool = Field(
        default=False, description="Add the public results link (never a personal one)."
    )


class AnnouncementOut(BaseModel):
    announcement_id: uuid.UUID
    audience_size: int
    recorded: int = Field(description="E-mails recorded now (a retried id records none twice).")


@router.post("/announcements", status_code=202, summary="An e-mail to a selected audience")
async def announce(session: Session, _: Organizer, body: AnnouncementIn) -> AnnouncementOut:
    audience = body.audience
    edition = editions.default_edition()
    conditions = [recipients.c.edition == edition]
    if audience.kind == "unpaid":
        conditions.append(recipients.c.status == "applied")
    else:
        conditions.append(recipients.c.status.in_(("applied", "paid")))
    if audience.kind in ("distance", "category"):
        if audience.distance is None:
            raise Problem(422, "Distance required", "Name the distance.", type_="invalid-audience")
        conditions.append(recipients.c.distance == audience.distance)
    if audience.kind == "category":
        if audience.age_category is None:
            raise Problem(422, "Category required", "Name the category.", type_="invalid-audience")
        conditions.append(recipients.c.age_category == audience.age_category)
    if audience.gender is not None:
        conditions.append(recipients.c.gender == audience.gender)
    rows = (await session.execute(select(recipients).where(*conditions))).all()
    addressees = [
        Addressee(
            email=row.email,
            language=row.language,
            first_name=row.first_name,
            last_name=row.last_name,
            participant_id=row.participant_id,
        )
        for row in rows
    ]
    relay = editions.edition(edition).relay.code
    if audience.gender is None and (
        audience.kind == "all" or (audience.kind == "distance" and audience.distance == relay)
    ):
        captains = await session.execute(
            select(relay_captains).where(relay_captains.c.edition == edition)
        )
        addressees += [
            Addressee(
                email=row.email,
                language=row.language,
                first_name=row.first_name,
                last_name=row.last_name,
                relay_team_id=row.relay_team_id,
            )
            for row in captains.all()
        ]
    announcement_id = body.announcement_id or uuid.uuid4()
    fallback = [lang for lang in LANGUAGES if lang in body.messages]
    mails = []
    for to in addressees:
        wording = body.messages.get(to.language) or body.messages[fallback[0]]
        # Only the organizers' text, the person's own name and the public results link: a
        # shared announcement never carries anyone else's data (RULES §10).
        context = {
            "subject": wording.subject,
            "body": wording.body,
            "include_results_link": body.include_results_link,
        }
        mails.append(Mail(to, "announcement", context))
    try:
        recorded = await record(
            session,
            editions.renderer(edition),
            mails,
            event_id=announcement_id,
            kind="announcement",
            trigger_event_type=None,
            now=datetime.now(UTC),
        )
    except PermanentError as exc:
        raise Problem(500, "Template failed to render", str(exc), type_="template-error") from exc
    return AnnouncementOut(
        announcement_id=announcement_id, audience_size=len(addressees), recorded=len(recorded)
    )
