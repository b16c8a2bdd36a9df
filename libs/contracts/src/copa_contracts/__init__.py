"""copa_contracts: what the five services say to each other, declared once.

* :mod:`~copa_contracts.envelope`: the envelope every message travels in, and the ``Event`` base;
* one module of event payloads per producer: :mod:`~copa_contracts.participants`
  (registration), :mod:`~copa_contracts.timing` (timing-ingest), :mod:`~copa_contracts.ranking`,
  :mod:`~copa_contracts.teams`, :mod:`~copa_contracts.notifications`;
* :mod:`~copa_contracts.topics`: every topic, its key, partitions and events;
* :mod:`~copa_contracts.dead_letter`: what a consumer parks in ``<topic>.dlq``;
* :mod:`~copa_contracts.edition`: the schema and loader of `editions/<edition>.toml`;
* :mod:`~copa_contracts.export`: JSON Schema and AsyncAPI export (``python -m
  copa_contracts.export``), committed under `libs/contracts/schemas/`.
"""

from copa_contracts.dead_letter import DeadLetter
from copa_contracts.edition import Edition, load_edition
from copa_contracts.envelope import Envelope, Event
from copa_contracts.topic import Topic, UnknownEventType, dead_letter_topic
from copa_contracts.topics import ALL_EVENTS, ALL_TOPICS, UnknownTopic, topic_by_name, topic_of

__all__ = [
    "ALL_EVENTS",
    "ALL_TOPICS",
    "DeadLetter",
    "Edition",
    "Envelope",
    "Event",
    "Topic",
    "UnknownEventType",
    "UnknownTopic",
    "dead_letter_topic",
    "load_edition",
    "topic_by_name",
    "topic_of",
]
