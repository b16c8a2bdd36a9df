"""The starter-kit reminder (reg 8.1-8.5): the day before the kit days, once, to every paid
participant, with an injected clock; sent through the real sender to a real SMTP server."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta

from sqlalchemy import text

from copa_contracts.edition import load_edition
from copa_notifications.config import NotificationSettings
from copa_notifications.reminders import KitReminderScheduler
from copa_notifications.sender import Sender
from copa_runtime.db import Database

EDITION = load_edition("2024")


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def local(text_: str) -> datetime:
    return EDITION.to_utc(datetime.fromisoformat(text_))


async def reminders(db: Database) -> list[tuple[uuid.UUID, uuid.UUID]]:
    async with db.unit_of_work() as session:
        rows = await session.execute(
            text("SELECT participant_id, event_id FROM deliveries WHERE template = 'kit-reminder'")
        )
        return [tuple(row) for row in rows]


async def test_kit_reminder_goes_once_to_each_paid_participant_the_day_before(db, notif, smtp_sink):
    run = uuid.uuid4().hex[:8]
    ru, kk = notif.Person("ru", f"{run}-kit1"), notif.Person("kk", f"{run}-kit2", bib=18)
    unpaid = notif.Person("en", f"{run}-kit3")
    await notif.consume(db, ru.applied(), ru.paid(), kk.applied(), kk.paid(), unpaid.applied())
    clock = Clock(local("2024-03-13T12:00:00"))
    scheduler = KitReminderScheduler(db, "2024", poll_s=60, clock=clock)

    assert await scheduler.tick() == 0  # two days before the first kit day (15 March)
    clock.now = local("2024-03-14T00:00:00") - timedelta(microseconds=1)
    assert await scheduler.tick() == 0
    clock.now = local("2024-03-14T09:00:00")  # the day before, Almaty time (RULES §1)
    assert await scheduler.tick() == 2
    assert await scheduler.tick() == 0  # idempotent: a second tick, a restart, a replica
    assert await KitReminderScheduler(db, "2024", poll_s=60, clock=clock).tick() == 0

    late = notif.Person("en", f"{run}-kit4", bib=19)
    await notif.consume(db, late.applied(), late.paid())
    clock.now = local("2024-03-15T11:00:00")  # paid during the kit days: still reminded
    assert await scheduler.tick() == 1
    after = notif.Person("ru", f"{run}-kit5", bib=20)
    await notif.consume(db, after.applied(), after.paid())
    clock.now = local("2024-03-16T20:00:00")  # kit issue closed (reg 8.1)
    assert await scheduler.tick() == 0
    sent = await reminders(db)
    assert sorted(p for p, _ in sent) == sorted([ru.id, kk.id, late.id])
    assert len({event for _, event in sent}) == 1

    config = NotificationSettings(COPA_NOTIFICATIONS_SEND_RATE=1000)  # type: ignore[call-arg]
    sender = Sender(db, smtp_sink.url, config)
    while await sender.send_due():
        pass
    await sender.close()
    (mail,) = [
        m
        for m in notif.mails_to(smtp_sink, ru.email)
        if m.message["X-Copa-Template"] == "kit-reminder"
    ]
    body = re.sub(r"[\u00a0\u202f]", " ", mail.text())
    assert mail.subject == "Выдача стартовых пакетов начинается завтра"
    assert "15 марта 2024 г., 16 марта 2024 г. с 10:00 до 20:00" in body
    assert "111 Nauryzbay Batyr St, Almaty" in body
    assert "стартовый номер 17" in body
    assert "удостоверение личности" in body  # reg 8.3-8.4
    assert "(п. 8.5)" in body
    (kazakh,) = [
        m
        for m in notif.mails_to(smtp_sink, kk.email)
        if m.message["X-Copa-Template"] == "kit-reminder"
    ]
    assert kazakh.subject == "Старттық пакеттерді беру ертең басталады"
    assert "18 старттық нөмірі" in kazakh.text()
    assert not [m for m in notif.mails_to(smtp_sink, unpaid.email) if "kit" in m.subject.lower()]


async def test_postponed_edition_moves_the_reminder_with_the_kit_days(db, notif):
    run = uuid.uuid4().hex[:8]
    runner = notif.Person("ru", f"{run}-moved")
    await notif.consume(db, runner.applied(), runner.paid())
    clock = Clock(local("2024-03-14T09:00:00"))
    scheduler = KitReminderScheduler(db, "2024", poll_s=60, clock=clock)
    assert await scheduler.tick() == 1
    await notif.consume(db, notif.postponed())  # 17 -> 24 March (reg 16.1)
    assert await scheduler.tick() == 0  # the old kit days are no longer the kit days
    clock.now = local("2024-03-21T08:00:00")  # the day before the moved kit days
    assert await scheduler.tick() == 1
    events = {event for _, event in await reminders(db)}
    assert len(events) == 2


async def test_relay_captain_is_reminded_to_collect_the_teams_kits(db, notif):
    run = uuid.uuid4().hex[:8]
    runner = notif.Person("ru", f"{run}-kitrunner")
    team = notif.relay_team("kk", f"{run}-kitteam")  # BIB 5012, four legs (RULES §8)
    await notif.consume(db, runner.applied(), runner.paid(), team)
    scheduler = KitReminderScheduler(
        db, "2024", poll_s=60, clock=Clock(local("2024-03-14T09:00:00"))
    )
    assert await scheduler.tick() == 2
    assert await scheduler.tick() == 0  # the captain, too, once
    async with db.unit_of_work() as session:
        rows = (
            await session.execute(
                text(
                    "SELECT recipient, language, body_text FROM deliveries "
                    "WHERE template = 'kit-reminder'"
                )
            )
        ).all()
    by_address = {row.recipient: row for row in rows}
    captain = by_address[team.contact.email]
    assert captain.language == "kk"
    body = re.sub(r"[\u00a0\u202f]", " ", captain.body_text)
    assert "5012-1 – 5012-4 старттық нөмірлері" in body
    assert "Әр жүгірушінің жеке куәлігін" in body  # every runner's documents (reg 8.3-8.5)
    assert "111 Nauryzbay Batyr St, Almaty" in body
    assert "стартовый номер 17" in by_address[runner.email].body_text
