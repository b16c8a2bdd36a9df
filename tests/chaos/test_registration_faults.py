"""Registration under faults (issue 8): killed between payment and callback; duplicate and
forged payment callbacks. The test plays the payment provider: it signs sandbox callbacks with
the provider's secret and retries every callback that was not answered, as providers do.

Each test has a broker of its own, so that `registration.participants.v1` holds only its
events.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

import httpx
import pytest

from copa_contracts import topics
from copa_registration.providers import Sandbox

IN_WINDOW = "2024-02-01T04:00:00+00:00"  # 10:00 in Almaty, inside the window of reg 7.1
SECRET = "chaos-sandbox-secret"
PAID = "participant.paid"


@pytest.fixture
def registration_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COPA_REGISTRATION_CLOCK_START", IN_WINDOW)
    monkeypatch.setenv("COPA_REGISTRATION_CLOCK_CONTROL", "1")
    monkeypatch.setenv("COPA_SANDBOX_PAY_SECRET", SECRET)
    monkeypatch.setenv("COPA_PAYMENT_PROVIDER", "sandbox")


def applicant(n: int) -> dict[str, Any]:
    return {
        "distance": "100m",
        "first_name": f"Dana{n}",
        "last_name": f"Chaos-{uuid.uuid4().hex[:8]}",
        "gender": "F",
        "birth_date": "1990-05-17",
        "email": f"dana{n}@example.kz",
        "phone": "+7 701 555 01 02",
        "language": "ru",
    }


async def apply_and_start_paying(client: httpx.AsyncClient, n: int) -> dict[str, Any]:
    created = await client.post("/applications", json=applicant(n))
    assert created.status_code == 201, created.text
    application = created.json()
    started = await client.post(
        f"/applications/{application['registration_id']}/payments",
        headers={"X-Personal-Token": application["personal_token"]},
    )
    assert started.status_code == 201, started.text
    return {**application, "payment": started.json()}


def callback(application: dict[str, Any], *, transaction_id: str, amount_kzt: int | None = None):
    """The provider's signed notification for ``application``'s payment: (body, headers)."""
    sandbox = Sandbox(SECRET)
    body = sandbox.body(
        transaction_id=transaction_id,
        payment_id=str(application["payment"]["payment_id"]),
        account_id=application["registration_number"],
        amount_kzt=application["payment"]["amount_kzt"] if amount_kzt is None else amount_kzt,
    )
    return body, {"Content-Type": "application/json", "X-Sandbox-Signature": sandbox.sign(body)}


async def deliver(client: httpx.AsyncClient, body: bytes, headers: dict[str, str], log: Counter):
    """Send one callback until the service answers it (a provider retries what failed)."""
    while True:
        try:
            answer = await client.post("/payments/sandbox/notify", content=body, headers=headers)
        except httpx.HTTPError as error:
            log[type(error).__name__] += 1
            await asyncio.sleep(0.1)
            continue
        if answer.status_code >= 500:
            log[str(answer.status_code)] += 1
            await asyncio.sleep(0.1)
            continue
        assert answer.status_code == 200, answer.text
        return answer.json()


async def state(client: httpx.AsyncClient, application: dict[str, Any]) -> dict[str, Any]:
    answer = await client.get(
        f"/applications/{application['registration_id']}",
        headers={"X-Personal-Token": application["personal_token"]},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


async def events_by_key(chaos, bootstrap: str, topic: str) -> dict[str, Counter]:
    """key -> how many distinct events of each type the topic holds for it."""
    found: dict[str, Counter] = {}
    for envelope in chaos.distinct(await chaos.read_topic(bootstrap, topic)).values():
        found.setdefault(envelope.key, Counter())[envelope.type] += 1
    return found


async def test_killed_between_payment_and_callback_the_retried_callback_pays_once(
    chaos, start_service, broker_factory, registration_env
):
    """40 applicants start paying; the provider's callbacks (one transaction each) arrive
    while registration is SIGKILLed and restarted: those that fail are retried until
    answered, and then the provider sends every callback once more. Expected: each applicant
    paid exactly once (their fee, one BIB, BIBs all distinct), each provider transaction
    stored once, and exactly one `participant.paid` event per applicant on the bus."""
    broker = broker_factory()
    registration = start_service("registration", broker.bootstrap)
    async with httpx.AsyncClient(base_url=registration.base_url, timeout=30) as client:
        applications = [await apply_and_start_paying(client, n) for n in range(40)]
        callbacks = [
            callback(a, transaction_id=f"sbx-chaos-{uuid.uuid4().hex}") for a in applications
        ]
        failures: Counter = Counter()
        answers: dict[int, dict[str, Any]] = {}
        queue = list(enumerate(callbacks))
        killed = asyncio.Event()

        async def provider() -> None:
            while queue:
                index, (body, headers) = queue.pop(0)
                answers[index] = await deliver(client, body, headers, failures)
                if len(answers) == 8:
                    # The kill lands the moment the 8th callback is answered, with the other
                    # providers' requests in flight and 29 or more callbacks still to send,
                    # however fast this machine answers.
                    registration.kill()
                    killed.set()

        sending = [asyncio.create_task(provider()) for _ in range(4)]
        await killed.wait()
        await asyncio.sleep(1.0)
        registration.start()
        await asyncio.gather(*sending)
        again = [await deliver(client, body, headers, failures) for body, headers in callbacks]
        states = [await state(client, a) for a in applications]

    assert sum(failures.values()) > 0, "no callback failed: the kill landed after them all"
    assert all(a["result"] in ("applied", "duplicate") for a in answers.values()), answers
    assert [a["result"] for a in again] == ["duplicate"] * 40
    assert [(s["status"], s["amount_paid_kzt"]) for s in states] == [("paid", 5000)] * 40
    bibs = [s["bib"] for s in states]
    assert None not in bibs
    assert len(set(bibs)) == 40
    stored = await chaos.scalar(registration, "SELECT count(*) FROM provider_transactions")
    assert stored == 40
    paid = await chaos.scalar(registration, "SELECT count(*) FROM payments WHERE status = 'paid'")
    assert paid == 40

    async def all_published() -> dict[str, Counter] | None:
        found = await events_by_key(chaos, broker.bootstrap, topics.PARTICIPANTS.name)
        return found if sum(c[PAID] for c in found.values()) >= 40 else None

    found = await chaos.eventually(all_published, "the paid events")
    assert {a["registration_id"]: found[a["registration_id"]][PAID] for a in applications} == {
        a["registration_id"]: 1 for a in applications
    }


async def test_duplicate_callbacks_change_nothing_and_forged_ones_are_refused(
    chaos, start_service, broker_factory, registration_env
):
    """A genuine callback delivered five times, three of them at once: applied once (one
    payment, one BIB, one `participant.paid` event), the others answered `duplicate`.
    Forged callbacks (the body changed after signing, a signature made with another secret,
    no signature, for a real payment or an unknown one) are refused with 401 problem+json and
    change nothing: no transaction stored, no application changed, no event.
    A correctly signed callback with the wrong amount, or for an unknown payment, is real
    money (RULES §3, reg 7.7): it pays no one, and is recorded as unmatched for an organizer
    with one `payment.needs-attention` event each, once however often it is sent."""
    broker = broker_factory()
    registration = start_service("registration", broker.bootstrap)
    async with httpx.AsyncClient(base_url=registration.base_url, timeout=30) as client:
        paying, victim = [await apply_and_start_paying(client, n) for n in range(2)]
        body, headers = callback(paying, transaction_id="sbx-dup-1")
        log: Counter = Counter()
        first = [await deliver(client, body, headers, log) for _ in range(2)]
        burst = await asyncio.gather(*(deliver(client, body, headers, log) for _ in range(3)))

        genuine, genuine_headers = callback(victim, transaction_id="sbx-forged-1")
        unknown = Sandbox(SECRET).body(
            transaction_id="sbx-unknown-1",
            payment_id=str(uuid.uuid4()),
            account_id="R999999",
            amount_kzt=5000,
        )
        forgeries = [
            (genuine.replace(b'"5000"', b'"50"'), genuine_headers),  # changed after signing
            (genuine, {**genuine_headers, "X-Sandbox-Signature": Sandbox("guess").sign(genuine)}),
            (genuine, {"Content-Type": "application/json"}),
            (unknown, {**genuine_headers, "X-Sandbox-Signature": Sandbox("x").sign(unknown)}),
        ]
        refused = [
            await client.post("/payments/sandbox/notify", content=b, headers=h)
            for b, h in forgeries
        ]
        after_forgeries = await state(client, victim)
        transactions_after_forgeries = await chaos.scalar(
            registration, "SELECT count(*) FROM provider_transactions"
        )

        wrong, wrong_headers = callback(victim, transaction_id="sbx-wrong-1", amount_kzt=4000)
        stray_headers = {**genuine_headers, "X-Sandbox-Signature": Sandbox(SECRET).sign(unknown)}
        unmatched = [
            await deliver(client, b, h, log)
            for b, h in [(wrong, wrong_headers)] * 2 + [(unknown, stray_headers)] * 2
        ]
        victim_after = await state(client, victim)
        paying_after = await state(client, paying)

    assert [a["result"] for a in first] == ["applied", "duplicate"]
    assert [a["result"] for a in burst] == ["duplicate"] * 3
    assert log == Counter()
    assert (paying_after["status"], paying_after["amount_paid_kzt"]) == ("paid", 5000)
    assert paying_after["bib"] is not None

    assert [r.status_code for r in refused] == [401] * 4
    assert all(r.headers["content-type"] == "application/problem+json" for r in refused)
    assert transactions_after_forgeries == 1  # only the genuine, duplicated transaction
    assert (after_forgeries["status"], after_forgeries["bib"]) == ("held", None)

    assert [(a["result"], a["reason"]) for a in unmatched] == [
        ("unmatched", "wrong_amount"),
        ("duplicate", None),
        ("unmatched", "unknown_id"),
        ("duplicate", None),
    ]
    assert (victim_after["status"], victim_after["bib"], victim_after["amount_paid_kzt"]) == (
        "held",
        None,
        0,
    )
    rows = await chaos.query(
        registration,
        "SELECT transaction_id, outcome, reason FROM provider_transactions ORDER BY received_at",
    )
    assert sorted((r["transaction_id"], r["outcome"], r["reason"]) for r in rows) == [
        ("sbx-dup-1", "applied", None),
        ("sbx-unknown-1", "unmatched", "unknown_id"),
        ("sbx-wrong-1", "unmatched", "wrong_amount"),
    ]
    assert (
        await chaos.scalar(registration, "SELECT count(*) FROM payments WHERE status = 'paid'") == 1
    )

    async def published() -> tuple[dict[str, Counter], dict[str, Counter]] | None:
        people = await events_by_key(chaos, broker.bootstrap, topics.PARTICIPANTS.name)
        money = await events_by_key(chaos, broker.bootstrap, topics.PAYMENTS.name)
        ready = people.get(paying["registration_id"]) and len(money) >= 2
        return (people, money) if ready else None

    people, money = await chaos.eventually(published, "the events")
    assert people[paying["registration_id"]][PAID] == 1
    assert people.get(victim["registration_id"], Counter())[PAID] == 0
    assert {key: dict(kinds) for key, kinds in money.items()} == {
        "sandbox:sbx-wrong-1": {"payment.needs-attention": 1},
        "sandbox:sbx-unknown-1": {"payment.needs-attention": 1},
    }
