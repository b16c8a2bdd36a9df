"""Payments over real HTTP (RULES §3, reg 7.3, 7.7, 7.8): the sandbox provider's checkout sends
a signed callback to the service; a provider transaction is applied once; money that cannot be
applied is recorded for an organizer."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import httpx

from copa_contracts import topics
from copa_registration.providers import Sandbox


def test_sandbox_checkout_pays_and_issues_a_bib_of_the_distance(client, h):
    created = client.post("/applications", json=h.runner(1, distance="1000m")).json()
    started = client.post(
        f"/applications/{created['registration_id']}/payments", headers=h.token_header(created)
    )
    assert started.status_code == 201, started.text
    payment = started.json()
    assert (payment["amount_kzt"], payment["currency"], payment["provider"]) == (
        7000,
        "KZT",
        "sandbox",
    )
    page = client.get(payment["checkout_url"])
    assert page.status_code == 200
    assert "7000 KZT" in page.text
    paid = client.post(f"/sandbox-pay/{payment['payment_id']}/pay")
    assert paid.json()["callback"] == {"result": "applied", "reason": None}
    state = client.get(
        f"/applications/{created['registration_id']}", headers=h.token_header(created)
    ).json()
    assert state["status"] == "paid"
    assert 1001 <= state["bib"] <= 1999  # RULES §3: the 1000 m range
    assert state["amount_paid_kzt"] == 7000


def test_payment_start_is_idempotent_and_needs_the_token(client, h):
    created = client.post("/applications", json=h.runner(1)).json()
    url = f"/applications/{created['registration_id']}/payments"
    assert client.post(url).status_code == 404
    headers = {**h.token_header(created), "Idempotency-Key": "pay-1"}
    first = client.post(url, headers=headers).json()
    second = client.post(url, headers=headers).json()
    assert first["payment_id"] == second["payment_id"]


def test_a_provider_transaction_is_applied_once(client, h):
    created = client.post("/applications", json=h.runner(1)).json()
    started = client.post(
        f"/applications/{created['registration_id']}/payments", headers=h.token_header(created)
    ).json()
    pay_url = f"/sandbox-pay/{started['payment_id']}/pay"
    first = client.post(pay_url, json={"transaction_id": "tx-once-1"}).json()["callback"]
    again = client.post(pay_url, json={"transaction_id": "tx-once-1"}).json()["callback"]
    assert first["result"] == "applied"
    assert again["result"] == "duplicate"
    state = client.get(
        f"/applications/{created['registration_id']}", headers=h.token_header(created)
    ).json()
    assert state["amount_paid_kzt"] == 5000


def test_wrong_amount_unknown_id_and_bad_signature(client, h):
    created = client.post("/applications", json=h.runner(1)).json()
    started = client.post(
        f"/applications/{created['registration_id']}/payments", headers=h.token_header(created)
    ).json()
    wrong = client.post(f"/sandbox-pay/{started['payment_id']}/pay", json={"amount_kzt": 4000})
    assert wrong.json()["callback"] == {"result": "unmatched", "reason": "wrong_amount"}
    state = client.get(
        f"/applications/{created['registration_id']}", headers=h.token_header(created)
    ).json()
    assert state["status"] == "held"
    assert state["bib"] is None

    sandbox = Sandbox(h.sandbox_secret)
    body = sandbox.body(
        transaction_id="tx-unknown-1",
        payment_id=str(uuid.uuid4()),
        account_id="R999999",
        amount_kzt=5000,
    )
    unknown = client.post(
        "/payments/sandbox/notify",
        content=body,
        headers={"X-Sandbox-Signature": sandbox.sign(body), "Content-Type": "application/json"},
    )
    assert unknown.json() == {"result": "unmatched", "reason": "unknown_id"}
    forged = client.post(
        "/payments/sandbox/notify",
        content=body.replace(b"5000", b"50"),
        headers={"X-Sandbox-Signature": sandbox.sign(body), "Content-Type": "application/json"},
    )
    assert forged.status_code == 401
    assert forged.headers["content-type"] == "application/problem+json"


def test_expired_hold_reads_expired_at_once_and_is_released_by_the_sweeper(
    registration, kafka_bootstrap, h
):
    with httpx.Client(base_url=registration.base_url, timeout=30) as client:
        held = _expiry(client, h)
    expired = asyncio.run(
        h.published(
            kafka_bootstrap,
            topics.PARTICIPANTS.name,
            "participant.hold-expired",
            held["registration_id"],
        )
    )
    assert len(expired) == 1
    assert expired[0].payload["distance"] == "100m"


def _expiry(client: httpx.Client, h) -> dict:
    created = client.post(
        "/applications", json=h.runner(1, distance="3000m", qualifying_result=h.qualifier())
    ).json()
    held = client.post("/applications", json=h.runner(2)).json()
    h.set_clock(client, "2024-02-01T04:31:00+00:00")  # 31 minutes later
    state = client.get(f"/applications/{held['registration_id']}", headers=h.token_header(held))
    assert state.json()["status"] == "expired"
    assert created["status"] == "awaiting_qualification"
    start = client.post(
        f"/applications/{held['registration_id']}/payments", headers=h.token_header(held)
    )
    assert start.status_code == 409
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        edition = client.get("/edition").json()
        if edition["registration"]["places_free"] == 700:
            break
        time.sleep(0.2)
    assert edition["registration"]["places_free"] == 700
    hundred = next(d for d in edition["distances"] if d["code"] == "100m")
    assert hundred["places_free"] == 250
    return held


def test_payment_after_expiry_takes_a_free_slot_or_goes_to_the_organizer(small_registration, h):
    service = small_registration(capacity=1, slots={"100m": 1})
    with httpx.Client(base_url=service.base_url, timeout=30) as http:
        first = http.post("/applications", json=h.runner(1)).json()
        started = http.post(
            f"/applications/{first['registration_id']}/payments", headers=h.token_header(first)
        ).json()
        full = http.post("/applications", json=h.runner(2))
        assert (full.json()["reason"], full.json()["clause"]) == ("capacity_reached", "7.1")
        h.set_clock(http, "2024-02-01T04:31:00+00:00")
        # The expired hold released its slot: the next applicant gets it (RULES §3).
        second = http.post("/applications", json=h.runner(3))
        assert second.status_code == 201, second.text
        # The first applicant's late payment finds no slot: money recorded for an organizer.
        late = http.post(f"/sandbox-pay/{started['payment_id']}/pay").json()["callback"]
        assert late == {"result": "unmatched", "reason": "hold_expired_sold_out"}
        listed = http.get("/organizer/unmatched-payments", headers=h.bearer(service, "organizer"))
        if listed.status_code != 404:  # organizer endpoints (step 4)
            reasons = [p["reason"] for p in listed.json()]
            assert reasons == ["hold_expired_sold_out"]


def test_expired_hold_paid_while_a_slot_is_free_becomes_a_participant(small_registration, h):
    service = small_registration(capacity=2, slots={"100m": 2})
    with httpx.Client(base_url=service.base_url, timeout=30) as http:
        first = http.post("/applications", json=h.runner(1)).json()
        started = http.post(
            f"/applications/{first['registration_id']}/payments", headers=h.token_header(first)
        ).json()
        h.set_clock(http, "2024-02-01T04:45:00+00:00")
        late = http.post(f"/sandbox-pay/{started['payment_id']}/pay").json()["callback"]
        assert late["result"] == "applied"
        state = http.get(
            f"/applications/{first['registration_id']}", headers=h.token_header(first)
        ).json()
        assert (state["status"], state["bib"]) == ("paid", 1)


def test_paid_participant_is_published_with_bib_category_club_and_contact(
    registration, kafka_bootstrap, h
):
    with httpx.Client(base_url=registration.base_url, timeout=30) as http:
        created = http.post("/applications", json=h.runner(7, club="Kaspi Runners")).json()
        assert h.pay(http, created)["result"] == "applied"
    found = asyncio.run(
        h.published(
            kafka_bootstrap,
            topics.PARTICIPANTS.name,
            "participant.paid",
            created["registration_id"],
        )
    )
    assert len(found) == 1
    payload = found[0].payload
    assert payload["bib"] == 1  # the first BIB of the 100 m range (RULES §3)
    assert payload["age_category"] == "18-34"
    assert payload["gender"] == "F"
    assert payload["club"] == "Kaspi Runners"
    assert payload["contact"]["email"] == "runner7@example.kz"
    assert payload["contact"]["language"] == "kk"
    assert payload["payment_method"] == "online"
    assert payload["amount_kzt"] == 5000
    assert "birth_date" not in json.dumps(payload)
    assert "phone" not in payload
