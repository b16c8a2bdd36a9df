"""Organizer functions and a participant's own changes over real HTTP (reg 4.2.3, 7.2, 7.6,
7.11, 7.13, 8, 16.1, RULES §3, §8)."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import datetime, timedelta

import httpx

from copa_contracts import topics


def _paid(client, h, **overrides):
    created = client.post("/applications", json=h.runner(1, **overrides)).json()
    assert h.pay(client, created)["result"] == "applied"
    return created


def _state(client, h, created):
    return client.get(
        f"/applications/{created['registration_id']}", headers=h.token_header(created)
    ).json()


def test_organizer_functions_need_the_organizer_role(client, shared_registration, h):
    assert client.get("/organizer/counts").status_code == 401
    judge = h.bearer(shared_registration, "judge")
    assert client.get("/organizer/counts", headers=judge).status_code == 403


def test_counts_and_csv_export(client, shared_registration, h):
    created = _paid(client, h, club="Export Club")
    org = h.bearer(shared_registration, "organizer")
    counts = client.get("/organizer/counts", headers=org).json()
    groups = [g for g in counts["groups"] if g["distance"] == "100m" and g["status"] == "paid"]
    assert sum(g["count"] for g in groups) >= 1
    assert counts["capacity"]["total"]["limit"] == 700
    export = client.get("/organizer/participants.csv", headers=org)
    assert export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text)))
    mine = [r for r in rows if r["registration_number"] == created["registration_number"]]
    assert mine[0]["club"] == "Export Club"
    assert mine[0]["distance"] == "100m"


def test_qualification_is_verified_before_payment(client, shared_registration, h):
    org = h.bearer(shared_registration, "organizer")
    created = client.post(
        "/applications", json=h.runner(1, distance="3000m", qualifying_result=h.qualifier())
    ).json()
    url = f"/applications/{created['registration_id']}/payments"
    assert client.post(url, headers=h.token_header(created)).status_code == 409
    pending = client.get("/organizer/qualifications", headers=org).json()
    assert created["registration_id"] in [p["id"] for p in pending]
    accepted = client.post(
        f"/organizer/qualifications/{created['registration_id']}/accept", json={}, headers=org
    )
    assert accepted.json()["status"] == "held"
    assert h.pay(client, created)["result"] == "applied"
    assert 3001 <= _state(client, h, created)["bib"] <= 3999

    other = client.post(
        "/applications", json=h.runner(2, distance="3000m", qualifying_result=h.qualifier())
    ).json()
    refused = client.post(
        f"/organizer/qualifications/{other['registration_id']}/refuse",
        json={"reason": "evidence_invalid", "note": "No such result in the protocol."},
        headers=org,
    )
    assert refused.json()["status"] == "refused"
    assert _state(client, h, other)["refusal"]["clause"] == "4.2.3"


def test_3000m_applicant_is_told_why_nothing_is_held_and_then_until_when_to_pay(
    client, shared_registration, kafka_bootstrap, h
):
    # reg 4.2.3: no hold (and no deadline) until an organizer accepted the qualifying result;
    # the event says so, so that notifications does not read it as a company entry (reg 7.2).
    created = client.post(
        "/applications", json=h.runner(3, distance="3000m", qualifying_result=h.qualifier())
    ).json()
    key = created["registration_id"]
    (received,) = asyncio.run(
        h.published(
            kafka_bootstrap, topics.PARTICIPANTS.name, "participant.application-received", key
        )
    )
    assert received.payload["hold_expires_at"] is None
    assert received.payload["awaiting"] == "qualification_check"
    assert received.payload["qualification_required"] is True

    h.set_clock(client, "2024-02-01T05:00:00+00:00")
    org = h.bearer(shared_registration, "organizer")
    accepted = client.post(f"/organizer/qualifications/{key}/accept", json={}, headers=org)
    assert accepted.json()["status"] == "held"
    (event,) = asyncio.run(
        h.published(
            kafka_bootstrap, topics.PARTICIPANTS.name, "participant.qualification-accepted", key
        )
    )
    # The 30-minute hold starts at the acceptance (RULES §3), and the e-mail can say until when.
    expires = datetime.fromisoformat(event.payload["hold_expires_at"])
    assert expires - datetime.fromisoformat(event.payload["accepted_at"]) == timedelta(minutes=30)
    at_half_past = datetime.fromisoformat("2024-02-01T05:30:00+00:00")  # the clock runs on
    assert at_half_past <= expires < at_half_past + timedelta(minutes=1)

    held = client.post("/applications", json=h.runner(4)).json()  # a 100 m one is held at once
    (plain,) = asyncio.run(
        h.published(
            kafka_bootstrap,
            topics.PARTICIPANTS.name,
            "participant.application-received",
            held["registration_id"],
        )
    )
    assert plain.payload["hold_expires_at"] is not None
    assert plain.payload["awaiting"] is None


def test_a_banned_person_cannot_register(client, shared_registration, h):
    org = h.bearer(shared_registration, "organizer")
    person = h.runner(1)
    ban = client.post(
        "/organizer/bans",
        json={
            "first_name": person["first_name"],
            "last_name": person["last_name"],
            "birth_date": person["birth_date"],
            "from_edition": "2023",
            "reason": "Ran under another participant's BIB in 2023 (7.11).",
        },
        headers=org,
    )
    assert ban.status_code == 201
    assert ban.json()["banned_editions"] == ["2024", "2025", "2026"]  # the next 3 (7.11)
    refused = client.post(
        "/applications", json={**person, "last_name": person["last_name"].upper()}
    )
    assert refused.status_code == 403
    assert (refused.json()["reason"], refused.json()["clause"]) == ("banned", "7.11")
    # A breach in 2024 bans 2025-2027, not the current edition.
    paid = _paid(client, h)
    now_ban = client.post(
        "/organizer/bans",
        json={"participant_id": paid["registration_id"], "reason": "BIB transfer (7.11)."},
        headers=org,
    )
    assert now_ban.json()["banned_editions"] == ["2025", "2026", "2027"]


def test_distance_change_fees_and_new_bib(client, h):
    created = _paid(client, h)
    old_bib = _state(client, h, created)["bib"]
    change = client.post(
        f"/applications/{created['registration_id']}/distance-change",
        json={"to_distance": "1000m"},
        headers=h.token_header(created),
    )
    assert change.status_code == 201, change.text
    # reg 7.6: 1,000 KZT plus the difference to a dearer distance (7,000 - 5,000).
    assert (change.json()["change_fee_kzt"], change.json()["fee_difference_kzt"]) == (1000, 2000)
    assert h.pay(client, created)["result"] == "applied"
    state = _state(client, h, created)
    assert state["distance"] == "1000m"
    assert 1001 <= state["bib"] <= 1999
    assert state["bib"] != old_bib
    assert state["amount_paid_kzt"] == 5000 + 3000
    back = client.post(
        f"/applications/{created['registration_id']}/distance-change",
        json={"to_distance": "100m"},
        headers=h.token_header(created),
    ).json()
    assert (back["amount_due_kzt"], back["fee_difference_kzt"]) == (1000, 0)  # no refund
    into_3000 = client.post(
        f"/applications/{created['registration_id']}/distance-change",
        json={"to_distance": "3000m"},
        headers=h.token_header(created),
    )
    # RULES §3: a change into 3000 m needs the qualifying result.
    assert into_3000.status_code == 422
    assert into_3000.json()["clause"] == "4.2.3"
    pending = client.post(
        f"/applications/{created['registration_id']}/distance-change",
        json={"to_distance": "100m"},
        headers=h.token_header(created),
    )
    assert pending.status_code == 409  # the change to 100 m waits for its payment
    h.set_clock(client, "2024-03-03T19:00:01+00:00")  # 2024-03-04 00:00:01 local
    late = client.post(
        f"/applications/{created['registration_id']}/distance-change",
        json={"to_distance": "3000m"},
        headers=h.token_header(created),
    )
    assert late.status_code == 422
    assert late.json()["clause"] == "7.6"


def test_free_slot_granted_from_the_pool(client, shared_registration, h):
    org = h.bearer(shared_registration, "organizer")
    created = client.post("/applications", json=h.runner(1)).json()
    request = client.post(
        f"/applications/{created['registration_id']}/free-slot-request",
        json={
            "full_name": f"{h.runner(1)['first_name']} x",
            "distance": "100m",
            "documents": ["https://docs.example.kz/1"],
        },
        headers=h.token_header(created),
    )
    assert request.status_code == 422  # the name must be the entry's
    name = f"{created['first_name']} {created['last_name']}"
    request = client.post(
        f"/applications/{created['registration_id']}/free-slot-request",
        json={"full_name": name, "distance": "100m", "documents": ["https://docs.example.kz/1"]},
        headers=h.token_header(created),
    )
    assert request.status_code == 202, request.text
    granted = client.post(f"/organizer/free-slots/{created['registration_id']}/grant", headers=org)
    assert granted.json()["granted"] is True
    state = _state(client, h, created)
    assert (state["status"], state["amount_paid_kzt"], state["free_slot_status"]) == (
        "paid",
        0,
        "granted",
    )
    pool = client.get("/organizer/free-slots", headers=org).json()["pool"]
    assert pool["limit"] == 20
    assert pool["granted"] >= 1


def test_free_slot_refused_when_the_pool_is_empty_and_after_deadline(small_registration, h):
    service = small_registration(capacity=700, slots={}, free_slots=1)
    org = h.bearer(service, "organizer")
    with httpx.Client(base_url=service.base_url, timeout=30) as http:
        outcomes = []
        for n in range(2):
            created = http.post("/applications", json=h.runner(n)).json()
            name = f"{created['first_name']} {created['last_name']}"
            http.post(
                f"/applications/{created['registration_id']}/free-slot-request",
                json={"full_name": name, "distance": "100m", "documents": ["https://d.kz/1"]},
                headers=h.token_header(created),
            )
            outcomes.append(
                http.post(
                    f"/organizer/free-slots/{created['registration_id']}/grant", headers=org
                ).json()
            )
        assert outcomes[0]["granted"] is True
        assert outcomes[1] == {"granted": False, "reason": "pool_exhausted"}
        h.set_clock(http, "2024-02-29T19:00:00+00:00")  # 2024-03-01 00:00 local (UTC+5)
        late = http.post("/applications", json=h.runner(5)).json()
        name = f"{late['first_name']} {late['last_name']}"
        answer = http.post(
            f"/applications/{late['registration_id']}/free-slot-request",
            json={"full_name": name, "distance": "100m", "documents": ["https://d.kz/1"]},
            headers=h.token_header(late),
        )
        assert answer.status_code == 409
        assert answer.json()["clause"] == "7.13"


def test_corporate_batch_over_30_by_bank_transfer(client, shared_registration, h):
    org = h.bearer(shared_registration, "organizer")
    contact = {"first_name": "Marat", "last_name": "Zhumabekov", "email": "hr@example.kz"}
    people = [h.runner(n, distance="1000m" if n % 2 else "100m") for n in range(31)]
    for p in people:
        p.pop("qualifying_result", None)
    small = client.post(
        "/organizer/corporate-batches",
        json={"company_name": "Small LLP", "contact": contact, "entries": people[:30]},
        headers=org,
    )
    assert small.status_code == 422
    assert small.json()["clause"] == "7.2"
    batch = client.post(
        "/organizer/corporate-batches",
        json={"company_name": "Kaspi Runners LLP", "contact": contact, "entries": people},
        headers=org,
    )
    assert batch.status_code == 201, batch.text
    assert batch.json()["invoice_total_kzt"] == 16 * 5000 + 15 * 7000
    batch_id = batch.json()["corporate_batch_id"]
    wrong = client.post(
        f"/organizer/corporate-batches/{batch_id}/confirm",
        json={"transfer_reference": "PP 117", "amount_kzt": 1},
        headers=org,
    )
    assert wrong.status_code == 422
    confirmed = client.post(
        f"/organizer/corporate-batches/{batch_id}/confirm",
        json={"transfer_reference": "PP 117", "amount_kzt": 185000},
        headers=org,
    )
    assert confirmed.json() == {"confirmed": 31}
    export = client.get("/organizer/participants.csv", headers=org).text
    assert export.count("bank_transfer") >= 31


def test_corporate_batch_from_csv(client, shared_registration, h):
    org = h.bearer(shared_registration, "organizer")
    out = io.StringIO()
    fields = ["distance", "first_name", "last_name", "gender", "birth_date", "email", "phone"]
    writer = csv.DictWriter(out, fieldnames=fields)
    writer.writeheader()
    for n in range(32):
        writer.writerow({k: v for k, v in h.runner(n).items() if k in fields})
    answer = client.post(
        "/organizer/corporate-batches",
        content=out.getvalue().encode(),
        params={
            "company": "Air Astana Runners",
            "contact_first_name": "Dana",
            "contact_last_name": "Serikova",
            "contact_email": "dana@example.kz",
        },
        headers={**org, "Content-Type": "text/csv"},
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["entries"] == 32
    assert answer.json()["invoice_total_kzt"] == 32 * 5000


def test_kit_desk_only_on_kit_days_and_hours(client, shared_registration, h):
    org = h.bearer(shared_registration, "organizer")
    created = _paid(client, h)
    bib = _state(client, h, created)["bib"]
    issue = {
        "chip": f"CHIP-{created['registration_number']}",
        "collected_by": "proxy",
        "proxy_name": "Askar Nurlanov",
        "id_document_seen": "electronic",
        "health_acknowledgement_seen": "original",
    }
    url = f"/organizer/kit-desk/{created['registration_id']}/issue"
    early = client.post(url, json=issue, headers=org)
    assert early.status_code == 409
    assert early.json()["clause"] == "8.1"
    h.set_clock(client, "2024-03-15T04:59:00+00:00")  # 09:59 local: not yet open
    assert client.post(url, json=issue, headers=org).status_code == 409
    h.set_clock(client, "2024-03-15T05:00:00+00:00")  # 10:00 local on a kit day
    found = client.get("/organizer/kit-desk/search", params={"q": str(bib)}, headers=org).json()
    assert created["registration_id"] in [f["id"] for f in found]
    issued = client.post(url, json=issue, headers=org)
    assert issued.status_code == 200, issued.text
    assert issued.json()["bib"] == bib
    assert client.post(url, json=issue, headers=org).status_code == 409  # once (7.8)
    assert _state(client, h, created)["kit_issued"] is True


def test_postponement_moves_the_date_and_categories(registration, h):
    # Its own service: the new date moves the kit days of every other test too.
    with httpx.Client(base_url=registration.base_url, timeout=30) as client:
        _postponement(client, h, h.bearer(registration, "organizer"))


def _postponement(client, h, org):
    # 34 on 2024-03-17, 35 on 2024-03-24: the category follows the new date (reg 5.2, 16.1).
    created = client.post("/applications", json=h.runner(1, birth_date="1989-03-20")).json()
    assert created["age_category"] == "18-34"
    moved = client.post(
        "/organizer/edition/postpone",
        json={"new_date": "2024-03-24", "reason": "Postponed by order of the akimat (16.1)."},
        headers=org,
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["categories_changed"] >= 1
    assert client.get("/edition").json()["date"] == "2024-03-24"
    assert _state(client, h, created)["age_category"] == "35-44"
    # The kit days move with the competition (16.1): 2024-03-15 is no kit day any more.
    paid = _paid(client, h)
    h.set_clock(client, "2024-03-15T06:00:00+00:00")
    issue = {
        "chip": "CHIP-POSTPONED",
        "collected_by": "participant",
        "id_document_seen": "original",
        "health_acknowledgement_seen": "original",
    }
    url = f"/organizer/kit-desk/{paid['registration_id']}/issue"
    assert client.post(url, json=issue, headers=org).status_code == 409
    h.set_clock(client, "2024-03-22T06:00:00+00:00")
    assert client.post(url, json=issue, headers=org).status_code == 200


def test_unmatched_payment_is_listed_and_resolved(client, shared_registration, h):
    org = h.bearer(shared_registration, "organizer")
    created = client.post("/applications", json=h.runner(1)).json()
    started = client.post(
        f"/applications/{created['registration_id']}/payments", headers=h.token_header(created)
    ).json()
    client.post(
        f"/sandbox-pay/{started['payment_id']}/pay",
        json={"amount_kzt": 4500, "transaction_id": "tx-wrong-4500"},
    )
    listed = client.get("/organizer/unmatched-payments", headers=org).json()
    mine = [p for p in listed if p["transaction_id"] == "tx-wrong-4500"]
    assert mine[0]["reason"] == "wrong_amount"
    assert mine[0]["amount_kzt"] == 4500
    assert mine[0]["expected_kzt"] == 5000
    resolved = client.post(
        "/organizer/unmatched-payments/sandbox/tx-wrong-4500/resolve",
        json={"action": "keep_as_non_refundable", "note": "Told the payer to pay 5,000 (7.7)."},
        headers=org,
    )
    assert resolved.status_code == 200
    done = client.get("/organizer/unmatched-payments", params={"resolved": True}, headers=org)
    assert "tx-wrong-4500" in [p["transaction_id"] for p in done.json()]


def test_relay_team_of_four_gets_team_and_leg_bibs(client, shared_registration, h):
    runners = [
        {k: h.runner(n)[k] for k in ("first_name", "last_name", "gender", "birth_date", "email")}
        for n in range(4)
    ]
    team = {
        "team_name": "Medeu Flyers",
        "captain_first_name": "Arman",
        "captain_last_name": "Tulegenov",
        "captain_email": "arman@example.kz",
        "captain_phone": "+7 701 000 00 00",
        "runners": runners,
    }
    assert client.post("/relay-teams", json={**team, "runners": runners[:3]}).status_code == 422
    entered = client.post("/relay-teams", json=team)
    assert entered.status_code == 201, entered.text
    created = entered.json()
    assert [m["leg_distance_m"] for m in created["members"]] == [800, 400, 200, 100]
    assert created["fee_kzt"] == 20000
    headers = h.token_header(created)
    members = [m["member_id"] for m in created["members"]]
    reordered = client.put(
        f"/relay-teams/{created['relay_team_id']}/legs",
        json={"member_ids": list(reversed(members))},
        headers=headers,
    )
    assert reordered.json()["members"][0]["member_id"] == members[3]
    started = client.post(f"/relay-teams/{created['relay_team_id']}/payments", headers=headers)
    assert started.status_code == 201, started.text
    paid = client.post(f"/sandbox-pay/{started.json()['payment_id']}/pay").json()["callback"]
    assert paid["result"] == "applied"
    state = client.get(f"/relay-teams/{created['relay_team_id']}", headers=headers).json()
    assert state["status"] == "paid"
    assert 5001 <= state["bib"] <= 5999
    assert [m["leg_bib"] for m in state["members"]] == [f"{state['bib']}-{n}" for n in (1, 2, 3, 4)]
    h.set_clock(client, "2024-03-03T19:00:01+00:00")
    late = client.put(
        f"/relay-teams/{created['relay_team_id']}/legs",
        json={"member_ids": members},
        headers=headers,
    )
    assert late.status_code == 409
    org = h.bearer(shared_registration, "organizer")
    kit_url = f"/organizer/kit-desk/relay-teams/{created['relay_team_id']}/issue"
    chips = {m: f"RELAY-{state['bib']}-{n}" for n, m in enumerate(members)}
    assert client.post(kit_url, json={"chips": chips}, headers=org).status_code == 409  # 8.1
    h.set_clock(client, "2024-03-16T14:59:00+00:00")  # 19:59 local on the second kit day
    short = {m: c for m, c in list(chips.items())[:3]}
    assert client.post(kit_url, json={"chips": short}, headers=org).status_code == 422
    issued = client.post(kit_url, json={"chips": chips}, headers=org)
    assert issued.status_code == 200, issued.text
    assert issued.json()["bib"] == state["bib"]


def test_a_batch_that_does_not_fit_is_refused_whole(small_registration, h):
    service = small_registration(capacity=35, slots={"100m": 35})
    org = h.bearer(service, "organizer")
    contact = {"first_name": "Marat", "last_name": "Zhumabekov", "email": "hr@example.kz"}
    with httpx.Client(base_url=service.base_url, timeout=30) as http:
        for n in range(5):
            assert http.post("/applications", json=h.runner(n)).status_code == 201
        people = [h.runner(n) for n in range(31)]
        batch = http.post(
            "/organizer/corporate-batches",
            json={"company_name": "Big LLP", "contact": contact, "entries": people},
            headers=org,
        ).json()
        confirm = http.post(
            f"/organizer/corporate-batches/{batch['corporate_batch_id']}/confirm",
            json={"transfer_reference": "PP 9", "amount_kzt": batch["invoice_total_kzt"]},
            headers=org,
        )
        assert confirm.status_code == 409, confirm.text  # 5 held + 31 > 35 (reg 7.1)
        counts = http.get("/organizer/counts", headers=org).json()
        assert counts["capacity"]["total"]["taken"] == 5  # nothing half-confirmed
        assert not [g for g in counts["groups"] if g["status"] == "paid"]
