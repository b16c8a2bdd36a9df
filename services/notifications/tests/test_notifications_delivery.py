"""Delivery under failure, on the real service, broker, database and SMTP server: an SMTP
outage delays and then delivers; a bound gives up and shows it; a crash loses nothing; a
template that cannot render goes to the dead-letter topic with the reason (issue 7)."""

from __future__ import annotations

import asyncio
import shutil
import time
import uuid
from collections import Counter

import httpx
from aiokafka import AIOKafkaConsumer

from copa_contracts import topics
from copa_contracts.dead_letter import DeadLetter
from copa_contracts.envelope import Envelope
from copa_contracts.topic import dead_letter_topic
from copa_notifications.render import TEMPLATES_DIR


async def read_topic(bootstrap: str, topic: str, want, expected: int, timeout_s: float = 20):
    """Values on ``topic`` (from the start) for which ``want`` returns something; waits for
    ``expected`` of them, then a second more."""
    reader = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await reader.start()
    found = []
    try:
        deadline = time.monotonic() + timeout_s
        settle = None
        while time.monotonic() < deadline:
            for part in (await reader.getmany(timeout_ms=300)).values():
                for record in part:
                    item = want(record.value)
                    if item is not None:
                        found.append(item)
            if len(found) >= expected and settle is None:
                settle = time.monotonic() + 1.0
            if settle is not None and time.monotonic() > settle:
                break
    finally:
        await reader.stop()
    return found


def outcomes_of(delivery_id: str):
    def want(raw: bytes):
        envelope = Envelope.from_bytes(raw)
        return envelope if envelope.payload.get("delivery_id") == delivery_id else None

    return want


async def log_of(client: httpx.AsyncClient, participant_id: uuid.UUID) -> list[dict]:
    page = await client.get("/deliveries", params={"participant_id": str(participant_id)})
    assert page.status_code == 200, page.text
    return page.json()["items"]


async def test_smtp_outage_delays_delivery_then_delivers_once(
    service_process, own_smtp, fast_env, bus, notif, kafka_bootstrap
):
    fast_env(own_smtp.url, COPA_NOTIFICATIONS_MAX_ATTEMPTS="1000")  # the server is down
    service = service_process("notifications", role="all")
    person = notif.Person("kk", f"{uuid.uuid4().hex[:8]}-outage")
    await bus.publish(person.applied())
    headers = {"Authorization": f"Bearer {service.token('organizer')}"}
    async with httpx.AsyncClient(base_url=service.base_url, headers=headers) as client:

        async def retried() -> bool:
            items = await log_of(client, person.id)
            return bool(items) and items[0]["attempts"] >= 2

        await notif.eventually(retried)
        (waiting,) = await log_of(client, person.id)
        assert waiting["status"] == "pending"
        assert "Connect" in waiting["last_error"] or "refused" in waiting["last_error"]
        assert waiting["next_attempt_at"] is not None
        assert not own_smtp.messages

        own_smtp.start()  # the server is back, on the same port
        (mail,) = await notif.wait_for_mails(own_smtp, person.email, 1)
        assert "Өтінім қабылданды" in mail.subject

        async def marked() -> bool:
            return (await log_of(client, person.id))[0]["status"] == "sent"

        await notif.eventually(marked)
        (sent,) = await log_of(client, person.id)
    assert mail.message["Message-ID"] == f"<{sent['delivery_id']}@copa.run>"
    outcomes = await read_topic(
        kafka_bootstrap,
        topics.DELIVERIES.name,
        outcomes_of(sent["delivery_id"]),
        expected=sent["attempts"],
    )
    kinds = Counter(e.type for e in {e.event_id: e for e in outcomes}.values())
    assert kinds["delivery.sent"] == 1
    assert kinds["delivery.failed"] == sent["attempts"] - 1
    assert all(e.key == sent["delivery_id"] for e in outcomes)


async def test_delivery_gives_up_after_the_bound_and_an_organizer_resends_it(
    service_process, own_smtp, fast_env, bus, notif, kafka_bootstrap
):
    fast_env(own_smtp.url, COPA_NOTIFICATIONS_MAX_ATTEMPTS="2")
    service = service_process("notifications", role="all")
    person = notif.Person("en", f"{uuid.uuid4().hex[:8]}-gaveup")
    await bus.publish(person.applied())
    headers = {"Authorization": f"Bearer {service.token('organizer')}"}
    async with httpx.AsyncClient(base_url=service.base_url, headers=headers) as client:

        async def given_up() -> bool:
            items = await log_of(client, person.id)
            return bool(items) and items[0]["status"] == "gave_up"

        await notif.eventually(given_up)
        (lost,) = await log_of(client, person.id)
        assert lost["attempts"] == 2
        assert lost["gave_up_at"] is not None
        assert lost["last_error"]
        failed = await client.get("/deliveries", params={"status": "gave_up"})
        assert lost["delivery_id"] in [i["delivery_id"] for i in failed.json()["items"]]

        own_smtp.start()
        again = await client.post(f"/deliveries/{lost['delivery_id']}/resend")
        assert again.status_code == 202, again.text
        assert again.json()["kind"] == "resend"
        assert again.json()["subject"] == lost["subject"]
        (mail,) = await notif.wait_for_mails(own_smtp, person.email, 1)
    assert mail.subject == lost["subject"]
    outcomes = await read_topic(
        kafka_bootstrap, topics.DELIVERIES.name, outcomes_of(lost["delivery_id"]), expected=2
    )
    kinds = Counter(e.type for e in {e.event_id: e for e in outcomes}.values())
    assert kinds == Counter({"delivery.failed": 1, "delivery.gave-up": 1})


async def test_killed_mid_sending_loses_nothing_and_doubles_at_most_one(
    service_process, smtp_sink, fast_env, bus, notif
):
    # Slow sending so that the kill lands in the middle; short lease so claimed rows return.
    fast_env(
        smtp_sink.url,
        COPA_NOTIFICATIONS_SEND_RATE="8",
        COPA_NOTIFICATIONS_CLAIM_LEASE_S="1",
    )
    service = service_process("notifications", role="all")
    run = uuid.uuid4().hex[:8]
    people = [notif.Person("ru", f"{run}-crash{n}") for n in range(16)]
    await bus.publish(*[p.applied() for p in people])

    def arrived() -> int:
        return sum(len(notif.mails_to(smtp_sink, p.email)) for p in people)

    deadline = time.monotonic() + 30
    while arrived() < 4:
        assert time.monotonic() < deadline, "nothing was sent"
        await asyncio.sleep(0.05)
    service.kill()  # SIGKILL: whatever was between "sent" and "marked" is cut
    before_restart = arrived()
    assert before_restart < len(people), "the kill came too late to prove anything"
    service.start()
    for person in people:
        await notif.wait_for_mails(smtp_sink, person.email, 1, settle_s=0)
    await notif.wait_for_mails(smtp_sink, people[-1].email, 1, settle_s=1.5)
    counts = [len(notif.mails_to(smtp_sink, p.email)) for p in people]
    assert all(c >= 1 for c in counts), counts  # none lost
    assert sum(counts) <= len(people) + 1, counts  # at most the one in flight doubled
    ids = [m.message["Message-ID"] for p in people for m in notif.mails_to(smtp_sink, p.email)]
    assert len(set(ids)) == len(people)  # a duplicate carries the same Message-ID


async def test_template_that_fails_to_render_goes_to_the_dead_letter_topic(
    service_process, smtp_sink, fast_env, bus, notif, kafka_bootstrap, tmp_path
):
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, templates)
    broken = templates / "kit-issued.txt.j2"
    broken.write_text(broken.read_text().replace("bib=bib", "bib=chip_colour"))
    fast_env(smtp_sink.url, COPA_NOTIFICATIONS_TEMPLATES_DIR=str(templates))
    service_process("notifications", role="all")
    person = notif.Person("ru", f"{uuid.uuid4().hex[:8]}-dlq")
    _applied, kit, _paid = await bus.publish(person.applied(), person.kit_issued(), person.paid())

    mails = await notif.wait_for_mails(smtp_sink, person.email, 2)
    assert sorted(m.message["X-Copa-Template"] for m in mails) == [
        "application-received",
        "participant-paid",
    ]

    def letter_of_kit(raw: bytes):
        letter = DeadLetter.from_bytes(raw)
        original = Envelope.from_bytes(letter.original_value())
        return letter if original.event_id == kit.event_id else None

    (letter,) = await read_topic(
        kafka_bootstrap, dead_letter_topic(topics.PARTICIPANTS.name), letter_of_kit, expected=1
    )
    assert letter.consumer == "notifications.mail"
    assert letter.error_type == "PermanentError"
    assert "kit-issued" in letter.error
    assert "chip_colour" in letter.error
    assert letter.attempts == 1
