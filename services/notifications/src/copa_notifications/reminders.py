"""The starter-kit reminder: the day before the kit days, to every paid participant (reg 8.1)
and to every relay team's captain, who collects the team's kits (RULES §8).

Runs in the worker. From the start of the day before the first kit day (local time, RULES §1)
until kit issue closes on the last kit day, each tick records a reminder for every paid
participant of the edition who has none yet. The reminder's event id is derived from the
edition and the kit days, so each participant gets exactly one however many ticks, replicas
or restarts there are (the delivery id is unique); someone who pays during the window still
gets one. After a postponement (reg 16.1) the kit days move with the competition date.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from copa_contracts.edition import Edition
from copa_notifications import editions
from copa_notifications.config import NotificationSettings
from copa_notifications.deliveries import Addressee, Mail, deliveries, delivery_id, record
from copa_notifications.models import EditionDate, Recipient, RelayCaptain
from copa_notifications.render import Renderer
from copa_runtime.db import Database
from copa_runtime.settings import Settings

log = logging.getLogger(__name__)

recipients = Recipient.__table__  # type: ignore[attr-defined]
edition_dates = EditionDate.__table__  # type: ignore[attr-defined]
relay_captains = RelayCaptain.__table__  # type: ignore[attr-defined]

_NAMESPACE = uuid.UUID("1c0a7e55-4b1d-5e3a-8c2f-0d3b9e5a7c11")
TEMPLATE = "kit-reminder"


def kit_days(edition: Edition, competition_date: dt.date | None = None) -> tuple[dt.date, ...]:
    """The kit days, shifted with the competition date when it was postponed (reg 16.1)."""
    shift = (competition_date - edition.date) if competition_date else dt.timedelta(0)
    return tuple(day + shift for day in edition.kit_issue.days)


def reminder_window(edition: Edition, days: tuple[dt.date, ...]) -> tuple[datetime, datetime]:
    """[start of the day before the first kit day, close of the last kit day), as instants."""
    first, last = min(days), max(days)
    opens = edition.to_utc(dt.datetime.combine(first - dt.timedelta(days=1), dt.time(0, 0)))
    closes = edition.to_utc(dt.datetime.combine(last, edition.kit_issue.closes_at))
    return opens, closes


def reminder_event_id(edition: str, days: tuple[dt.date, ...]) -> uuid.UUID:
    """The same for every run of one edition's reminder (a new one if the days move)."""
    return uuid.uuid5(_NAMESPACE, f"{edition}|{','.join(d.isoformat() for d in days)}")


async def enqueue_kit_reminders(
    session: AsyncSession, edition: Edition, renderer: Renderer, now: datetime
) -> int:
    """Record the reminders due at ``now``; return how many were recorded by this call."""
    postponed = await session.scalar(
        select(edition_dates.c.competition_date).where(edition_dates.c.edition == edition.code)
    )
    days = kit_days(edition, postponed)
    opens, closes = reminder_window(edition, days)
    if not opens <= now < closes:
        return 0
    event_id = reminder_event_id(edition.code, days)
    paid = (
        await session.execute(
            select(recipients).where(
                recipients.c.edition == edition.code, recipients.c.status == "paid"
            )
        )
    ).all()
    already = set(
        (
            await session.execute(
                select(deliveries.c.delivery_id).where(
                    deliveries.c.event_id == event_id, deliveries.c.template == TEMPLATE
                )
            )
        ).scalars()
    )
    captains = (
        await session.execute(
            select(relay_captains).where(relay_captains.c.edition == edition.code)
        )
    ).all()
    where = {
        "kit_days": list(days),
        "opens_at": edition.kit_issue.opens_at,
        "closes_at": edition.kit_issue.closes_at,
        "address": edition.kit_issue.address,
    }
    due: list[tuple[Addressee, dict[str, object]]] = [
        (
            Addressee(
                email=row.email,
                language=row.language,
                first_name=row.first_name,
                last_name=row.last_name,
                participant_id=row.participant_id,
            ),
            {**where, "bib": row.bib, "team_name": None},
        )
        for row in paid
    ]
    due += [
        (
            Addressee(
                email=row.email,
                language=row.language,
                first_name=row.first_name,
                last_name=row.last_name,
                relay_team_id=row.relay_team_id,
            ),
            {
                **where,
                "bib": row.bib,
                "team_name": row.team_name,
                "legs": len(edition.relay.legs_m),
            },
        )
        for row in captains
    ]
    mails = [
        Mail(to, TEMPLATE, context)
        for to, context in due
        if delivery_id(event_id, to, TEMPLATE) not in already
    ]
    recorded = await record(
        session,
        renderer,
        mails,
        event_id=event_id,
        kind="reminder",
        trigger_event_type=None,
        now=now,
    )
    return len(recorded)


class KitReminderScheduler:
    """Ticks every ``poll_s`` with an injectable clock (tests move time, not wait for it)."""

    def __init__(
        self,
        db: Database,
        edition_code: str,
        *,
        poll_s: float,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.db = db
        self.edition_code = edition_code
        self.poll_s = poll_s
        self.clock = clock

    async def tick(self) -> int:
        edition = editions.edition(self.edition_code)
        async with self.db.unit_of_work() as session:
            count = await enqueue_kit_reminders(
                session, edition, editions.renderer(self.edition_code), self.clock()
            )
        if count:
            log.info("kit reminders recorded", extra={"count": count})
        return count

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("kit reminder tick failed; will try again")
            await asyncio.sleep(self.poll_s)


async def run_kit_reminders(db: Database, settings: Settings) -> None:
    """The worker entry point (``ServiceDefinition.workers``)."""
    config = NotificationSettings()
    await KitReminderScheduler(db, settings.edition, poll_s=config.reminder_poll_s).run()
