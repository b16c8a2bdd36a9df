"""The payload rules that make the units of ARCHITECTURE.md "Data" checked, not just named."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from copa_contracts.examples import example_events
from copa_contracts.participants import ParticipantPaid, RelayTeamRegistered
from copa_contracts.ranking import RaceResultEntry, standings_id
from copa_contracts.timing import ChipRead, chip_read_event_id

EXAMPLES = example_events()
PAID = next(event for event in EXAMPLES if isinstance(event, ParticipantPaid))
READ = next(event for event in EXAMPLES if isinstance(event, ChipRead))
RELAY = next(event for event in EXAMPLES if isinstance(event, RelayTeamRegistered))


def _paid(**changes: Any) -> ParticipantPaid:
    return ParticipantPaid.model_validate({**PAID.model_dump(), **changes})


def test_money_is_whole_tenge() -> None:
    with pytest.raises(ValidationError):
        _paid(amount_kzt=5000.0)
    with pytest.raises(ValidationError):
        _paid(amount_kzt="5000")
    with pytest.raises(ValidationError):
        _paid(amount_kzt=-1)


def test_an_instant_without_a_zone_is_refused() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        _paid(paid_at=datetime(2024, 1, 20, 14, 12))


def test_instants_are_normalized_to_utc() -> None:
    almaty = timezone(timedelta(hours=5))
    paid = _paid(paid_at=datetime(2024, 3, 17, 8, 30, tzinfo=almaty))
    assert paid.paid_at == datetime(2024, 3, 17, 3, 30, tzinfo=UTC)
    assert paid.paid_at.utcoffset() == timedelta(0)
    assert paid.model_dump(mode="json")["paid_at"] == "2024-03-17T03:30:00Z"


def test_durations_are_whole_microseconds() -> None:
    entry = {
        "place": 1,
        "participant_id": uuid.uuid4(),
        "relay_team_id": None,
        "bib": 101,
        "status": "OK",
        "gun_time_us": 13_401_000,
        "official_time_us": 13_410_000,
        "time_source": "chip",
    }
    RaceResultEntry.model_validate(entry)
    with pytest.raises(ValidationError):
        RaceResultEntry.model_validate({**entry, "gun_time_us": 13.401})


def test_a_dq_carries_its_rule_and_a_finisher_has_a_place() -> None:
    base = {
        "place": None,
        "participant_id": uuid.uuid4(),
        "relay_team_id": None,
        "bib": 117,
        "status": "DQ",
        "dq_rule": "7.12",
        "gun_time_us": None,
        "official_time_us": None,
        "time_source": None,
    }
    RaceResultEntry.model_validate(base)
    with pytest.raises(ValidationError, match="rule"):
        RaceResultEntry.model_validate({**base, "dq_rule": None})
    with pytest.raises(ValidationError, match="place"):
        RaceResultEntry.model_validate({**base, "status": "OK", "dq_rule": None})
    with pytest.raises(ValidationError, match="exactly one"):
        RaceResultEntry.model_validate({**base, "relay_team_id": uuid.uuid4()})


def test_relay_legs_are_numbered_once_each() -> None:
    members = [member.model_dump() for member in RELAY.members]
    members[3]["leg"] = 3
    with pytest.raises(ValidationError, match="legs"):
        RelayTeamRegistered.model_validate({**RELAY.model_dump(), "members": members})


def test_the_same_read_always_gets_the_same_event_id() -> None:
    same_instant_other_offset = READ.read_at.astimezone(timezone(timedelta(hours=5)))
    first = chip_read_event_id(READ.device_id, READ.device_sequence, READ.chip, READ.read_at)
    again = chip_read_event_id(
        READ.device_id, READ.device_sequence, READ.chip, same_instant_other_offset
    )
    after_reset = chip_read_event_id(
        READ.device_id, READ.device_sequence, READ.chip, READ.read_at + timedelta(minutes=5)
    )
    assert first == again
    assert first != after_reset
    with pytest.raises(ValueError, match="timezone"):
        chip_read_event_id("d", 1, "c", datetime(2024, 3, 17, 8, 30))


def test_contact_needs_a_plausible_email_and_a_supported_language() -> None:
    contact = PAID.contact.model_dump()
    with pytest.raises(ValidationError):
        _paid(contact={**contact, "email": "not-an-address"})
    with pytest.raises(ValidationError):
        _paid(contact={**contact, "language": "de"})


def test_standings_id_names_edition_distance_gender_and_category() -> None:
    assert standings_id("2024", "100m", "F", "35-44") == "2024/100m/F/35-44"
    assert standings_id("2024", "3000m", "M", None) == "2024/3000m/M/all"
