"""Kafka clients configured the one way the platform uses them."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable

import aiokafka.client
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code

from copa_contracts.topic import Topic, dead_letter_topic

log = logging.getLogger(__name__)


def _refuse_topic_auto_creation() -> None:
    """Make every metadata request of aiokafka say ``allow_auto_topic_creation=false``.

    aiokafka always asks the broker to auto-create a topic it looks up, and both Tansu (with
    4 partitions) and a default Kafka oblige. A producer that reconnects to a restarted
    embedded broker would then recreate a topic with the wrong partition count, and its
    queued sends would be "acknowledged" into it. Topics here are created only by
    :func:`ensure_topics`, with their declared partitions; a send to a missing topic must
    fail, so that the outbox relay re-creates the topics and sends again.
    """
    request = aiokafka.client.MetadataRequest
    if not isinstance(request, functools.partial):
        aiokafka.client.MetadataRequest = functools.partial(
            request, allow_auto_topic_creation=False
        )


_refuse_topic_auto_creation()


def make_producer(bootstrap_servers: str, *, client_id: str) -> AIOKafkaProducer:
    """Keyed, ``acks=all`` producer.

    The idempotent producer is off on purpose: the embedded broker (Tansu) rejects it, and
    correctness never depends on it: the outbox republishes until acknowledged and consumers
    deduplicate on ``event_id`` (ARCHITECTURE.md, "The bus").
    """
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=False,
        linger_ms=2,
        max_batch_size=1024 * 1024,
        max_request_size=4 * 1024 * 1024,
        request_timeout_ms=10_000,
        retry_backoff_ms=200,
    )


def make_consumer(
    bootstrap_servers: str,
    *,
    group_id: str,
    client_id: str,
    fetch_max_wait_ms: int,
    session_timeout_ms: int,
    max_records: int,
) -> AIOKafkaConsumer:
    """A group member that never commits by itself: offsets follow the database commit."""
    return AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=group_id,
        client_id=client_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=fetch_max_wait_ms,
        session_timeout_ms=session_timeout_ms,
        heartbeat_interval_ms=max(100, session_timeout_ms // 5),
        max_poll_records=max_records,
        max_partition_fetch_bytes=4 * 1024 * 1024,
        request_timeout_ms=max(40_000, session_timeout_ms + 5_000),
    )


def topics_with_dead_letters(topics: Iterable[Topic]) -> list[tuple[str, int]]:
    """Every topic and its dead-letter companion (one partition is plenty for those)."""
    wanted: list[tuple[str, int]] = []
    for topic in topics:
        wanted.append((topic.name, topic.partitions))
        wanted.append((dead_letter_topic(topic.name), 1))
    return wanted


async def ensure_topics(bootstrap_servers: str, topics: Iterable[tuple[str, int]]) -> list[str]:
    """Create the topics that do not exist yet; return the names created.

    Topics are never auto-created here (see :func:`_refuse_topic_auto_creation`), and a
    restarted embedded broker comes back empty, so every producer and consumer calls this at
    start-up and after a failure.
    """
    wanted = dict(topics)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=10_000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(name=name, num_partitions=partitions, replication_factor=1)
            for name, partitions in sorted(wanted.items())
            if name not in existing
        ]
        if not missing:
            return []
        response = await admin.create_topics(missing)
        created = []
        for entry in response.topic_errors:
            name, code = entry[0], entry[1]
            if code == 0:
                created.append(name)
            elif for_code(code) is not TopicAlreadyExistsError:
                raise for_code(code)(f"creating topic {name}")
        if created:
            log.info("created topics", extra={"topics": created})
        return created
    finally:
        await admin.close()
