"""Every event travels its topic and comes back equal; topics and the envelope stay strict."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from copa_contracts import (
    ALL_EVENTS,
    ALL_TOPICS,
    DeadLetter,
    Envelope,
    Event,
    UnknownEventType,
    UnknownTopic,
    dead_letter_topic,
    topic_by_name,
    topic_of,
)
from copa_contracts.examples import example_envelope, example_events
from copa_contracts.participants import HoldExpired, ParticipantPaid
from copa_contracts.timing import ChipRead
from copa_contracts.topics import PARTICIPANTS, READS, SERVICES

EXAMPLES = example_events()


def test_there_is_an_example_of_every_event_type() -> None:
    assert [type(example) for example in EXAMPLES] == list(ALL_EVENTS)


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda event: event.event_type)
def test_event_round_trips_through_the_envelope_and_its_topic(event: Event) -> None:
    topic = topic_of(event)
    envelope = Envelope.wrap(event, producer=str(topic.producer), key=topic.key_of(event))

    received = Envelope.from_bytes(envelope.to_bytes())

    assert received == envelope
    assert received.type == event.event_type
    assert received.version == event.event_version
    assert topic_by_name(topic.name).parse(received) == event


def test_event_types_are_unique_and_each_is_on_exactly_one_topic() -> None:
    type_versions = [(event.event_type, event.event_version) for event in ALL_EVENTS]
    assert len(type_versions) == len(set(type_versions))
    for event in ALL_EVENTS:
        carriers = [topic.name for topic in ALL_TOPICS if event in topic.events]
        assert carriers == [topic_of(event).name], event.__name__


def test_event_type_names_read_entity_dot_happening() -> None:
    for event in ALL_EVENTS:
        entity, _, happening = event.event_type.partition(".")
        assert entity, event.event_type
        assert happening, event.event_type
        assert "." not in happening, event.event_type
        assert event.event_type == event.event_type.lower()


def test_every_event_of_a_topic_has_the_topic_key_as_a_required_field() -> None:
    for topic in ALL_TOPICS:
        for event in topic.events:
            field = event.model_fields.get(topic.key)
            assert field is not None, f"{event.__name__} lacks {topic.key} ({topic.name})"
            assert field.is_required() or topic.key == "classification", event.__name__


def test_topic_names_are_versioned_and_written_by_one_known_service() -> None:
    names = [topic.name for topic in ALL_TOPICS]
    assert len(names) == len(set(names))
    for topic in ALL_TOPICS:
        assert topic.name.rsplit(".", 1)[-1] == "v1", topic.name
        assert topic.producer in SERVICES
        assert topic.partitions >= 1
    assert READS.partitions == max(topic.partitions for topic in ALL_TOPICS)


def test_reads_are_keyed_by_chip_and_participants_by_participant_id() -> None:
    read = next(event for event in EXAMPLES if isinstance(event, ChipRead))
    paid = next(event for event in EXAMPLES if isinstance(event, ParticipantPaid))
    assert READS.wrap(read).key == read.chip
    assert PARTICIPANTS.wrap(paid).key == str(paid.participant_id)
    assert PARTICIPANTS.wrap(paid).producer == "registration"


def test_an_event_is_refused_on_a_topic_that_does_not_carry_it() -> None:
    read = next(event for event in EXAMPLES if isinstance(event, ChipRead))
    with pytest.raises(UnknownEventType):
        PARTICIPANTS.key_of(read)
    envelope = example_envelope(read)
    with pytest.raises(UnknownEventType):
        PARTICIPANTS.parse(envelope)


def test_a_newer_version_than_the_topic_knows_is_refused() -> None:
    paid = next(event for event in EXAMPLES if isinstance(event, ParticipantPaid))
    envelope = PARTICIPANTS.wrap(paid).model_copy(update={"version": 2})
    with pytest.raises(UnknownEventType):
        PARTICIPANTS.parse(envelope)


def test_unknown_topic_name_is_an_error() -> None:
    with pytest.raises(UnknownTopic):
        topic_by_name("registration.participants.v0")


def test_envelope_rejects_unknown_fields() -> None:
    raw = json.loads(example_envelope(EXAMPLES[0]).to_bytes())
    raw["partition"] = 3
    with pytest.raises(ValidationError, match="partition"):
        Envelope.from_bytes(json.dumps(raw).encode())


def test_payload_with_an_unknown_field_is_refused_by_its_topic() -> None:
    envelope = example_envelope(EXAMPLES[0])
    tampered = envelope.model_copy(update={"payload": {**envelope.payload, "phone": "+7"}})
    with pytest.raises(ValidationError, match="phone"):
        topic_of(EXAMPLES[0]).parse(tampered)


def test_payload_missing_a_required_field_is_refused() -> None:
    hold = next(event for event in EXAMPLES if isinstance(event, HoldExpired))
    envelope = example_envelope(hold)
    payload = {k: v for k, v in envelope.payload.items() if k != "expired_at"}
    with pytest.raises(ValidationError, match="expired_at"):
        PARTICIPANTS.parse(envelope.model_copy(update={"payload": payload}))


def test_events_are_frozen() -> None:
    with pytest.raises(ValidationError):
        EXAMPLES[0].edition = "2025"


def test_dead_letter_keeps_the_original_bytes_exactly() -> None:
    value = b"\xff\xfenot json"
    letter = DeadLetter.of(
        source_topic=READS.name,
        partition=7,
        offset=1042,
        key=b"E2000017221101441890",
        value=value,
        consumer="ranking.reads",
        error=ValueError("bad envelope"),
        attempts=3,
        failed_at=datetime(2024, 3, 17, 3, 31, tzinfo=UTC),
    )
    again = DeadLetter.from_bytes(letter.to_bytes())
    assert again == letter
    assert again.original_value() == value
    assert again.key == "E2000017221101441890"
    assert again.error_type == "ValueError"
    assert dead_letter_topic(READS.name) == "timing.reads.v1.dlq" == READS.dead_letter_name


def test_dead_letter_refuses_a_value_that_is_not_base64_and_a_naive_instant() -> None:
    fields = {
        "source_topic": READS.name,
        "partition": 0,
        "offset": 0,
        "key": None,
        "consumer": "ranking.reads",
        "error": "x",
        "error_type": "ValueError",
        "attempts": 1,
        "failed_at": datetime(2024, 3, 17, 3, 31, tzinfo=UTC),
        "raw_value": base64.b64encode(b"{}").decode(),
    }
    DeadLetter.model_validate(fields)
    with pytest.raises(ValidationError, match="base64"):
        DeadLetter.model_validate({**fields, "raw_value": "not base64!"})
    with pytest.raises(ValidationError, match="timezone"):
        DeadLetter.model_validate({**fields, "failed_at": datetime(2024, 3, 17, 8, 31)})


def test_envelope_ids_of_examples_are_stable() -> None:
    assert example_envelope(EXAMPLES[0]).event_id == example_envelope(EXAMPLES[0]).event_id
    assert isinstance(example_envelope(EXAMPLES[0]).event_id, uuid.UUID)
