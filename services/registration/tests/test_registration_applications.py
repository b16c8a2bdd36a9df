"""Applications over real HTTP against the running service and PostgreSQL (reg 4.2.3, 5, 7.1,
7.3, RULES §2-§3): registration ID and token at once, every refusal says why."""

from __future__ import annotations

import uuid


def test_application_gets_registration_id_token_category_fee_and_hold(client, h):
    answer = client.post("/applications", json=h.runner(1))
    assert answer.status_code == 201, answer.text
    created = answer.json()
    uuid.UUID(created["registration_id"])
    assert created["registration_number"].startswith("R")
    assert len(created["personal_token"]) >= 32
    assert created["status"] == "held"
    # RULES §2: born 1990-05-17, 33 on 2024-03-17 -> 18-34; reg 7.5: 100 m costs 5,000 KZT.
    assert created["age_category"] == "18-34"
    assert created["fee_kzt"] == 5000
    assert created["hold_expires_at"].startswith("2024-02-01T04:30")  # 30 min (RULES §3)


def test_state_needs_the_personal_token_and_shows_no_one_else(client, h):
    mine = client.post("/applications", json=h.runner(1)).json()
    other = client.post("/applications", json=h.runner(2)).json()
    url = f"/applications/{mine['registration_id']}"
    assert client.get(url).status_code == 404
    assert client.get(url, headers=h.token_header(other)).status_code == 404
    seen = client.get(url, headers=h.token_header(mine))
    assert seen.status_code == 200
    assert seen.json()["first_name"] == "Aigerim1"
    assert "email" not in seen.json()
    assert "birth_date" not in seen.json()


def test_age_counts_on_the_competition_date(client, h):
    # reg 5.2: 18 on 2024-03-17 exactly is old enough; one day younger is not (reg 5.1).
    ok = client.post("/applications", json=h.runner(1, birth_date="2006-03-17"))
    assert ok.status_code == 201, ok.text
    young = client.post("/applications", json=h.runner(2, birth_date="2006-03-18"))
    assert young.status_code == 422
    assert young.headers["content-type"] == "application/problem+json"
    assert young.json()["reason"] == "under_minimum_age"
    assert young.json()["clause"] == "5.1"
    assert young.json()["registration_id"]
    # 35 on the competition date, 34 on the application date -> 35-44 (reg 5.2).
    older = client.post("/applications", json=h.runner(3, birth_date="1989-03-10"))
    assert older.json()["age_category"] == "35-44"


def test_window_closed_before_and_after(client, h):
    h.set_clock(client, "2024-01-14T17:59:58+00:00")  # 2024-01-14 23:59:58 local (UTC+6)
    early = client.post("/applications", json=h.runner(20))
    assert (early.json()["reason"], early.json()["clause"]) == ("registration_closed", "7.1")
    h.set_clock(client, "2024-01-14T18:00:00+00:00")  # opens 2024-01-15 00:00 local
    assert client.post("/applications", json=h.runner(21)).status_code == 201
    # Closes 2024-03-03 23:59:59 local, UTC+5 since 2024-03-01 (RULES §1): 18:59:59 UTC.
    h.set_clock(client, "2024-03-03T18:59:59+00:00")
    assert client.post("/applications", json=h.runner(22)).status_code == 201
    h.set_clock(client, "2024-03-03T19:00:00+00:00")
    late = client.post("/applications", json=h.runner(23))
    assert late.status_code == 409
    assert (late.json()["reason"], late.json()["clause"]) == ("registration_closed", "7.1")


def test_3000m_needs_a_result_no_slower_and_not_older_than_three_years(client, h):
    missing = client.post("/applications", json=h.runner(1, distance="3000m"))
    assert (missing.json()["reason"], missing.json()["clause"]) == (
        "qualification_refused",
        "4.2.3",
    )
    # Women 18-34: 15:30 (RULES §3 default); 15:31 is too slow.
    slow = h.qualifier(time_us=(15 * 60 + 31) * 1_000_000)
    answer = client.post(
        "/applications", json=h.runner(2, distance="3000m", qualifying_result=slow)
    )
    assert answer.status_code == 422
    assert "slower" in answer.json()["detail"]
    old = h.qualifier(result_date="2021-01-31")  # applied 2024-02-01: more than 3 years before
    answer = client.post("/applications", json=h.runner(3, distance="3000m", qualifying_result=old))
    assert "older than 3 years" in answer.json()["detail"]
    edge = h.qualifier(result_date="2021-02-01", time_us=15 * 60 * 1_000_000 + 30 * 1_000_000)
    answer = client.post(
        "/applications", json=h.runner(4, distance="3000m", qualifying_result=edge)
    )
    assert answer.status_code == 201, answer.text
    # The numbers pass; the slot is held once an organizer verified the evidence (reg 4.2.3).
    assert answer.json()["status"] == "awaiting_qualification"
    assert answer.json()["qualification_status"] == "pending"


def test_same_person_cannot_enter_the_same_distance_twice(client, h):
    person = h.runner(1)
    assert client.post("/applications", json=person).status_code == 201
    again = client.post("/applications", json={**person, "email": "other@example.kz"})
    assert again.status_code == 409
    assert again.json()["reason"] == "duplicate"
    # Another distance is fine (reg 4.2.4: one person may run several distances).
    other = {**person, "distance": "1000m"}
    assert client.post("/applications", json=other).status_code == 201


def test_idempotency_key_replays_the_first_answer(client, h):
    headers = {"Idempotency-Key": "apply-7f3a"}
    person = h.runner(1)
    first = client.post("/applications", json=person, headers=headers)
    second = client.post("/applications", json=person, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second.headers.get("Idempotent-Replayed") == "true"
    reused = client.post("/applications", json=h.runner(2), headers=headers)
    assert reused.status_code == 422


def test_invalid_fields_are_problem_details(client, h):
    answer = client.post("/applications", json=h.runner(1, email="not-an-email", language="de"))
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    unknown = client.post("/applications", json=h.runner(1, distance="42km"))
    assert unknown.status_code == 422


def test_cors_is_off_unless_configured(client):
    answer = client.options(
        "/applications",
        headers={"Origin": "https://almaty-marathon.kz", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in answer.headers
