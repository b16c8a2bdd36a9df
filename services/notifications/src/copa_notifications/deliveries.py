"""Recording e-mails: rendered in the unit of work that consumed their cause, sent later.

Exactly one message per (event, recipient, template): the delivery id is a UUIDv5 of those
three, and an insert that meets an existing id does nothing. The consumer's tracking record
already makes a redelivered event a no-op; the derived id also covers the paths that have no
tracking record (the kit reminder scheduler, a replayed announcement), and it is what the
``Message-ID`` header is made of, so a receiver can drop the one duplicate a crash between
"sent" and "marked" may produce (see :mod:`copa_notifications.sender`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from copa_contracts.common import Contact
from copa_notifications.models import Delivery
from copa_notifications.render import Renderer, RenderError
from copa_runtime.errors import PermanentError

deliveries = Delivery.__table__  # type: ignore[attr-defined]

_NAMESPACE = uuid.UUID("6f1d3c1e-7b0a-5d55-9a57-c0ba0e3a11ed")
_INSERT_CHUNK = 1000


@dataclass(frozen=True)
class Addressee:
    """Whom one e-mail goes to, and in which language."""

    email: str
    language: str
    first_name: str
    last_name: str
    participant_id: uuid.UUID | None = None
    relay_team_id: uuid.UUID | None = None  # a captain written to about their team

    @classmethod
    def of(cls, contact: Contact, participant_id: uuid.UUID | None = None) -> Addressee:
        return cls(
            email=contact.email,
            language=contact.language,
            first_name=contact.first_name,
            last_name=contact.last_name,
            participant_id=participant_id,
        )


@dataclass(frozen=True)
class Mail:
    """One e-mail to record: who, which template, with which data."""

    to: Addressee
    template: str
    context: Mapping[str, Any]


def delivery_id(event_id: uuid.UUID, to: Addressee, template: str) -> uuid.UUID:
    """The id of the one message ``event_id`` causes to ``to`` with ``template``."""
    entity = to.participant_id or to.relay_team_id
    who = str(entity) if entity is not None else to.email.lower()
    return uuid.uuid5(_NAMESPACE, f"{event_id}|{who}|{template}")


def message_id(delivery: uuid.UUID, mail_from: str) -> str:
    """A stable ``Message-ID``: the same for every attempt of one delivery."""
    domain = mail_from.rsplit("@", 1)[-1].strip(" >") or "copa.run"
    return f"<{delivery}@{domain}>"


def render_row(
    renderer: Renderer,
    mail: Mail,
    *,
    event_id: uuid.UUID,
    kind: str,
    trigger_event_type: str | None,
    now: datetime,
) -> dict[str, Any]:
    """Render ``mail``; a template that fails is a message that can never be processed."""
    context = {"first_name": mail.to.first_name, "last_name": mail.to.last_name, **mail.context}
    try:
        rendered = renderer.render(mail.template, mail.to.language, context)
    except RenderError as exc:
        raise PermanentError(f"template failed to render: {exc}") from exc
    return {
        "delivery_id": delivery_id(event_id, mail.to, mail.template),
        "event_id": event_id,
        "kind": kind,
        "trigger_event_type": trigger_event_type,
        "participant_id": mail.to.participant_id,
        "recipient": mail.to.email,
        "template": mail.template,
        "language": mail.to.language,
        "subject": rendered.subject,
        "body_text": rendered.text,
        "body_html": rendered.html,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


async def record(
    session: AsyncSession,
    renderer: Renderer,
    mails: Iterable[Mail],
    *,
    event_id: uuid.UUID,
    kind: str,
    trigger_event_type: str | None,
    now: datetime,
) -> list[uuid.UUID]:
    """Render and record ``mails`` for sending; return the ids recorded now (not before)."""
    rows = [
        render_row(
            renderer,
            mail,
            event_id=event_id,
            kind=kind,
            trigger_event_type=trigger_event_type,
            now=now,
        )
        for mail in mails
    ]
    return await insert_rows(session, rows)


async def insert_rows(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> list[uuid.UUID]:
    recorded: list[uuid.UUID] = []
    for start in range(0, len(rows), _INSERT_CHUNK):
        chunk = rows[start : start + _INSERT_CHUNK]
        result = await session.execute(
            insert(deliveries)
            .values(list(chunk))
            .on_conflict_do_nothing(index_elements=["delivery_id"])
            .returning(deliveries.c.delivery_id)
        )
        recorded.extend(result.scalars())
    return recorded
