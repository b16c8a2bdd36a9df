"""How a topic is declared: its versioned name, its partition key and the events it carries."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from copa_contracts.envelope import Envelope, Event


class UnknownEventType(ValueError):
    """An envelope names an event type (or version) its topic does not carry."""


@dataclass(frozen=True)
class Topic:
    """One Kafka topic of the system.

    ``key`` names what the partition key is (e.g. ``participant_id``): every event of one key
    lands on one partition, so its order is kept. It is also the name of a payload field that
    every event of the topic has, so the key is taken from the event (:meth:`key_of`), never
    typed by hand. ``partitions`` is the race-day default; deployments may raise it.
    ``producer`` is the one service that writes the topic (ARCHITECTURE.md, services table).
    """

    name: str
    key: str
    description: str
    events: tuple[type[Event], ...]
    partitions: int = 6
    producer: str | None = None
    _by_type: dict[tuple[str, int], type[Event]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        for event in self.events:
            type_version = (event.event_type, event.event_version)
            if type_version in self._by_type:
                raise ValueError(f"topic {self.name} declares {type_version} twice")
            self._by_type[type_version] = event

    def event_class(self, event_type: str, version: int) -> type[Event]:
        try:
            return self._by_type[(event_type, version)]
        except KeyError:
            raise UnknownEventType(
                f"topic {self.name} carries no event {event_type!r} version {version}"
            ) from None

    def parse(self, envelope: Envelope) -> Event:
        """The typed event inside an envelope of this topic (raises on a bad payload)."""
        return self.event_class(envelope.type, envelope.version).model_validate(envelope.payload)

    def key_of(self, event: Event) -> str:
        """The partition key of ``event`` on this topic: its ``key`` field, as a string."""
        if type(event) not in self.events:
            raise UnknownEventType(f"topic {self.name} carries no {type(event).__name__}")
        return str(getattr(event, self.key))

    def wrap(
        self,
        event: Event,
        *,
        correlation_id: str | None = None,
        event_id: uuid.UUID | None = None,
        occurred_at: datetime | None = None,
    ) -> Envelope:
        """``event`` in an envelope for this topic: key from the event, producer from the topic."""
        if self.producer is None:
            raise ValueError(f"topic {self.name} declares no producer")
        return Envelope.wrap(
            event,
            producer=self.producer,
            key=self.key_of(event),
            correlation_id=correlation_id,
            event_id=event_id,
            occurred_at=occurred_at,
        )

    @property
    def dead_letter_name(self) -> str:
        return dead_letter_topic(self.name)


def dead_letter_topic(topic_name: str) -> str:
    """Dead letters of ``registration.participants.v1`` go to ``...participants.v1.dlq``."""
    return f"{topic_name}.dlq"
