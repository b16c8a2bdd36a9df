"""Sample data for every template: what an organizer previews, and what the tests render."""

from __future__ import annotations

import datetime as dt
from typing import Any

_UTC = dt.UTC
SAMPLE_PERSON = {"first_name": "Aigerim", "last_name": "Sample"}

SAMPLES: dict[str, dict[str, Any]] = {
    "application-received": {
        "registration_number": "CR24-000123",
        "distance": "100m",
        "fee_kzt": 5000,
        "hold_expires_at": dt.datetime(2024, 2, 20, 6, 30, tzinfo=_UTC),
        "qualification_required": False,
        "awaiting": None,  # "qualification_check" (3000 m, reg 4.2.3), "company_transfer" (7.2)
    },
    "participant-paid": {
        "bib": 1042,
        "distance": "1000m",
        "age_category": "35-44",
        "amount_kzt": 7000,
        "payment_method": "online",
    },
    "hold-expired": {
        "registration_number": "CR24-000123",
        "distance": "100m",
        "expired_at": dt.datetime(2024, 2, 20, 7, 0, tzinfo=_UTC),
    },
    "application-refused": {
        "registration_number": "CR24-000123",
        "reason": "distance_full",
        "clause": "7.6",
        "detail": None,
        "minimum_age": 18,
    },
    "distance-changed": {
        "from_distance": "100m",
        "to_distance": "1000m",
        "age_category": "18-34",
        "old_bib": 17,
        "new_bib": 1204,
        "change_fee_kzt": 1000,
        "fee_difference_kzt": 2000,
    },
    "free-slot-granted": {"distance": "100m"},
    "free-slot-refused": {
        "reason": "after_deadline",
        "free_slot_deadline": dt.date(2024, 3, 1),
    },
    "qualification-accepted": {
        "registration_number": "CR24-000123",
        "hold_expires_at": dt.datetime(2024, 2, 20, 6, 30, tzinfo=_UTC),
        "distance": "3000m",
        "result_time_us": 742_150_000,
        "qualifying_time_us": 780_000_000,
        "result_date": dt.date(2023, 9, 10),
    },
    "qualification-refused": {
        "distance": "3000m",
        "reason": "slower_than_qualifying_time",
        "result_time_us": 801_000_000,
        "qualifying_time_us": 780_000_000,
        "lookback_years": 3,
    },
    "relay-team-registered": {
        "team_name": "Almaty Runners",
        "bib": 5012,
        "amount_kzt": 20000,
        "members": [
            {"leg": 1, "leg_distance_m": 800, "first_name": "Aigerim", "last_name": "Sample"},
            {"leg": 2, "leg_distance_m": 400, "first_name": "Daniyar", "last_name": "Sample"},
            {"leg": 3, "leg_distance_m": 200, "first_name": "Olga", "last_name": "Sample"},
            {"leg": 4, "leg_distance_m": 100, "first_name": "Timur", "last_name": "Sample"},
        ],
    },
    "kit-reminder": {
        "kit_days": [dt.date(2024, 3, 15), dt.date(2024, 3, 16)],
        "opens_at": dt.time(10, 0),
        "closes_at": dt.time(20, 0),
        "address": "111 Nauryzbay Batyr St, Almaty",
        "bib": 1042,
        "team_name": None,  # a relay team's captain: the team's name, with "legs"
    },
    "kit-issued": {
        "bib": 1042,
        "issued_at": dt.datetime(2024, 3, 15, 6, 12, tzinfo=_UTC),
        "collected_by_proxy": False,
    },
    "participant-banned": {"clause": "7.11", "editions_banned": 3},
    "edition-postponed": {
        "previous_date": dt.date(2024, 3, 17),
        "new_date": dt.date(2024, 3, 24),
        "reason": "Heavy snowfall is forecast for Almaty.",
        "team_names": [],  # the relay teams of a captain (RULES §8)
    },
    "start-list": {
        "changed": False,
        "race_number": 7,
        "round": "heat",
        "heat_number": 2,
        "races_in_round": 3,
        "lane": 4,
        "scheduled_start_at": dt.datetime(2024, 3, 17, 4, 15, tzinfo=_UTC),
        "bib": 17,
        "distance": "100m",
        "age_category": "18-34",
    },
    "team-standings": {
        "classification_name": "Sprint",
        "team_name": "Almaty Runners",
        "team_place": 2,
        "team_points": 41,
        "own_points": 3,
    },
    "protest-received": {
        "received_at": dt.datetime(2024, 3, 17, 9, 40, tzinfo=_UTC),
        "answer_due_at": dt.datetime(2024, 3, 18, 9, 40, tzinfo=_UTC),
        "claim": "My chip time is missing for race 7.",
    },
    "protest-answered": {
        "decision": "upheld",
        "answer": "The photo finish confirms your time; results are corrected.",
    },
    "announcement": {
        "subject": "Parking at the stadium",
        "body": "Parking opens at 07:00.\n\nPlease use the east gate.",
        "include_results_link": True,
    },
}

_RESULT = {
    "entry": {
        "place": 2,
        "bib": 17,
        "status": "OK",
        "dq_rule": None,
        "official_time_us": 12_340_000,
        "qualified": True,
    },
    "distance": "100m",
    "gender": "F",
    "age_category": "18-34",
    "round": "heat",
    "heat_number": 2,
    "category_place": 5,
    "gender_place": 9,
}
for _stage in ("provisional", "official", "corrected"):
    SAMPLES[f"result-{_stage}"] = dict(_RESULT)


def sample_context(template: str) -> dict[str, Any]:
    """The sample data of ``template`` with the sample person's name."""
    return {**SAMPLE_PERSON, **SAMPLES[template]}
