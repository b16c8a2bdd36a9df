"""The broker stopped for 30 s and started again empty, under the whole platform (issue 8).

The five services run in their own processes on a broker of the test's own (the embedded
one, which keeps nothing across a restart) and the session's PostgreSQL, with the e-mail
going to the SMTP sink. People apply and pay, a timing device posts reads; the broker stops;
for 30 s (the issue's outage) people keep applying and paying, the kits of everyone are
handed out and the device keeps posting: every API keeps answering, everything waits in the
outboxes and the reads table. The broker comes back with nothing on it; `copa republish` asks
every service to publish its whole history again.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from copa.state import ComponentRecord, PlatformRecord
from copa_contracts import topics

OUTAGE_S = 30.0
SERVICES = ("registration", "timing-ingest", "ranking", "teams", "notifications")
BEFORE, DURING = 10, 10  # applicants who pay before the outage, and during it
LAGGING = 5  # who pay just before it, and whom ranking had not read when the broker died
READS = 500  # posted before the outage, and as many during it
IN_WINDOW = "2024-02-01T04:00:00+00:00"
KIT_DAY = "2024-03-15T06:00:00+00:00"  # 11:00 in Almaty on a kit day (reg 8.1)
WAITING = "SELECT count(*) FROM outbox WHERE published_at IS NULL"
CHIPPED = "SELECT count(*) FROM roster WHERE chip IS NOT NULL"
MAILS_EACH = ("application-received", "participant-paid", "kit-issued")


@pytest.fixture
def platform_env(monkeypatch: pytest.MonkeyPatch, smtp_sink) -> None:
    monkeypatch.setenv("COPA_REGISTRATION_CLOCK_START", IN_WINDOW)
    monkeypatch.setenv("COPA_REGISTRATION_CLOCK_CONTROL", "1")
    monkeypatch.setenv("COPA_SANDBOX_PAY_SECRET", "chaos-outage-secret")
    monkeypatch.setenv("COPA_PAYMENT_PROVIDER", "sandbox")
    monkeypatch.setenv("SMTP_URL", smtp_sink.url)
    monkeypatch.setenv("COPA_NOTIFICATIONS_IDLE_POLL_S", "0.1")
    monkeypatch.setenv("COPA_NOTIFICATIONS_SEND_RATE", "500")
    monkeypatch.setenv("COPA_NOTIFICATIONS_REMINDER_POLL_S", "3600")


def applicant(tag: str, n: int) -> dict[str, Any]:
    return {
        "distance": "1000m",
        "first_name": f"Aru{n}",
        "last_name": f"Outage-{tag}",
        "gender": "F",
        "birth_date": "1988-04-02",
        "email": f"outage-{tag}-{n}@example.kz",
        "phone": "+7 701 555 01 02",
        "language": "kk",
    }


async def enter_and_pay(http: httpx.AsyncClient, tag: str, n: int) -> dict[str, Any]:
    created = await http.post("/applications", json=applicant(tag, n))
    assert created.status_code == 201, created.text
    application = created.json()
    started = await http.post(
        f"/applications/{application['registration_id']}/payments",
        headers={"X-Personal-Token": application["personal_token"]},
    )
    assert started.status_code == 201, started.text
    paid = await http.post(f"/sandbox-pay/{started.json()['payment_id']}/pay")
    assert paid.json()["callback"]["result"] == "applied", paid.text
    return application


async def issue_kit(http: httpx.AsyncClient, headers: dict, application: dict) -> str:
    chip = f"CHIP-{application['registration_number']}"
    issued = await http.post(
        f"/organizer/kit-desk/{application['registration_id']}/issue",
        json={
            "chip": chip,
            "collected_by": "participant",
            "id_document_seen": "original",
            "health_acknowledgement_seen": "original",
        },
        headers=headers,
    )
    assert issued.status_code == 200, issued.text
    return chip


def write_platform(home: Path, services: dict[str, Any]) -> None:
    """What `copa up` leaves for `copa status` and `copa republish`."""
    PlatformRecord(
        components=[ComponentRecord(name, "service", s.base_url) for name, s in services.items()]
    ).write(home / "run" / "platform.json")


def copa(home: Path, secret: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COPA_HOME": str(home), "COPA_JWT_SECRET": secret}
    return subprocess.run(
        [sys.executable, "-m", "copa", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_broker_restarted_empty_is_refilled_and_the_platform_converges(
    chaos, start_service, broker_factory, platform_env, smtp_sink, tmp_path
):
    """Ranking had fallen behind when the broker died: the last 5 payments had reached the
    broker but not ranking, and the kits of those 5 were handed out during the outage.
    Expected once the broker is back and `copa republish` has run: the broker holds every
    event every service ever published (per topic, every outbox row's event id, and every
    stored read) and every consumer converges as if nothing happened, with nothing doubled:
    ranking knows each of the 25 participants once with the chip of their kit (the payment
    that makes a participant reaches it before the kit, as it was committed) and has each
    read once; teams knows each participant once; notifications recorded and sent each
    participant's three e-mails (application, payment, kit) exactly once each."""
    broker = broker_factory()
    platform = start_service.many(SERVICES, broker.bootstrap)
    registration, ingest = platform["registration"], platform["timing-ingest"]
    ranking, teams, notifications = (
        platform["ranking"],
        platform["teams"],
        platform["notifications"],
    )
    home = tmp_path / "copa-home"
    write_platform(home, platform)
    tag = uuid.uuid4().hex[:8]
    organizer = chaos.auth(registration.token("organizer"))
    batches = chaos.device_batches(2 * READS // 50, 50)
    token = ingest.token("timing_device", device=f"finish-{tag}")
    early = chaos.Device(ingest.base_url, token, batches[: READS // 50])
    late = chaos.Device(ingest.base_url, token, batches[READS // 50 :])

    async with httpx.AsyncClient(base_url=registration.base_url, timeout=30) as http:
        before = [await enter_and_pay(http, tag, n) for n in range(BEFORE)]
        await early.run()

        async def settled() -> bool:
            return (
                await _count(chaos, ranking, "SELECT count(*) FROM roster") == BEFORE
                and await _count(chaos, ranking, "SELECT count(*) FROM chip_reads") == READS
                and await _count(chaos, teams, "SELECT count(*) FROM participants") == BEFORE
                and len(_mails(smtp_sink, tag)) == 2 * BEFORE
            )

        await chaos.eventually(settled, "the platform to take in what came before the outage")

        # Ranking falls behind (here: it is stopped) just as the last payments before the
        # outage reach the broker; the broker then loses them before ranking read them.
        ranking.stop()
        lagging = [await enter_and_pay(http, tag, BEFORE + n) for n in range(LAGGING)]
        await chaos.eventually(
            lambda: _zero(chaos, registration, WAITING), "the last payments on the broker"
        )
        broker.stop()
        outage_started = time.monotonic()
        during = [await enter_and_pay(http, tag, BEFORE + LAGGING + n) for n in range(DURING)]
        chaos_clock = await http.put("/testing/clock", json={"now": KIT_DAY})
        assert chaos_clock.status_code == 200, chaos_clock.text
        everyone = before + lagging + during
        chips = {a["registration_id"]: await issue_kit(http, organizer, a) for a in everyone}
        await late.run()
        assert sum(late.failures.values()) == 0  # the HTTP tier does not need the broker
        await asyncio.sleep(max(0.0, OUTAGE_S - (time.monotonic() - outage_started)))
        broker.start()  # the same address, and nothing on it

    # The operator runs the command once the platform is back on its feet: the relays have
    # sent what waited during the outage, and ranking has caught up with what the broker has.
    async def drained() -> bool:
        for service in platform.values():
            if service is not ranking and not await _zero(chaos, service, WAITING):
                return False
        return True

    await chaos.eventually(drained, "the relays to send what waited during the outage")
    ranking.start()
    await chaos.eventually(
        lambda: _at_least(chaos, ranking, "SELECT count(*) FROM roster", BEFORE + DURING),
        "ranking to catch up",
    )
    refilled = copa(home, registration.jwt_secret, "republish")
    assert refilled.returncode == 0, refilled.stdout + refilled.stderr
    assert len(refilled.stdout.splitlines()) == len(SERVICES)
    assert "reads" in refilled.stdout

    async def converged() -> bool:
        return (
            await _count(chaos, ranking, CHIPPED) == len(everyone)
            and await _count(chaos, ranking, "SELECT count(*) FROM chip_reads") == 2 * READS
            and await _count(chaos, teams, "SELECT count(*) FROM participants") == len(everyone)
            and len(_mails(smtp_sink, tag)) >= len(MAILS_EACH) * len(everyone)
        )

    try:
        await chaos.eventually(converged, "the platform to converge", 180)
    except AssertionError:
        raise AssertionError(await _report(chaos, platform, smtp_sink, tag)) from None
    await asyncio.sleep(3)  # anything doubled would show by now

    roster = await chaos.query(ranking, "SELECT participant_id, bib, chip FROM roster")
    assert {str(r["participant_id"]): r["chip"] for r in roster} == chips
    assert len({r["bib"] for r in roster}) == len(everyone)
    assert (
        await _count(chaos, ranking, "SELECT count(DISTINCT event_id) FROM chip_reads") == 2 * READS
    )
    assert await _count(chaos, teams, "SELECT count(*) FROM participants") == len(everyone)
    mails = Counter((m.rcpt_tos[0], m.message["X-Copa-Template"]) for m in _mails(smtp_sink, tag))
    wanted = {(applicant(tag, n)["email"], t): 1 for n in range(len(everyone)) for t in MAILS_EACH}
    assert dict(mails) == wanted
    deliveries = await _count(
        chaos, notifications, "SELECT count(*) FROM deliveries WHERE recipient LIKE $1", f"%{tag}%"
    )
    assert deliveries == len(MAILS_EACH) * len(everyone)

    # The broker holds the whole history again: every service's outbox, every read.
    for name, service in platform.items():
        rows = await chaos.query(service, "SELECT topic, count(*) AS n FROM outbox GROUP BY topic")
        for row in rows:
            on_bus = chaos.distinct(await chaos.read_topic(broker.bootstrap, row["topic"]))
            ids = await chaos.query(
                service, "SELECT event_id FROM outbox WHERE topic = $1", row["topic"]
            )
            assert {r["event_id"] for r in ids} <= set(on_bus), (name, row["topic"])
    reads = chaos.distinct(await chaos.read_topic(broker.bootstrap, topics.READS.name))
    stored = await chaos.query(ingest, "SELECT event_id FROM reads")
    assert {r["event_id"] for r in stored} == set(reads)
    assert len(stored) == 2 * READS


def _mails(sink, tag: str) -> list[Any]:
    return [m for m in sink.messages if any(tag in to for to in m.rcpt_tos)]


async def _zero(chaos, service, sql: str) -> bool:
    return await _count(chaos, service, sql) == 0


async def _at_least(chaos, service, sql: str, wanted: int) -> bool:
    return await _count(chaos, service, sql) >= wanted


async def _count(chaos, service, sql: str, *args: Any) -> int:
    return int(await chaos.scalar(service, sql, *args) or 0)


async def _report(chaos, platform, sink, tag: str) -> str:
    """What each consumer has, when the platform did not converge."""
    ranking, teams = platform["ranking"], platform["teams"]
    lines = [
        f"ranking roster: {await _count(chaos, ranking, 'SELECT count(*) FROM roster')}, "
        f"with a chip: {await _count(chaos, ranking, CHIPPED)}",
        f"ranking reads: {await _count(chaos, ranking, 'SELECT count(*) FROM chip_reads')}",
        f"teams participants: {await _count(chaos, teams, 'SELECT count(*) FROM participants')}",
        f"mails: {Counter(m.message['X-Copa-Template'] for m in _mails(sink, tag))}",
    ]
    for name, service in platform.items():
        backlog_rows = await _count(chaos, service, WAITING)
        lines.append(f"{name} outbox backlog: {backlog_rows}")
        lines.append(service.log_path.read_text()[-1500:])
    return "\n".join(lines)
