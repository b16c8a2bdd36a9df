"""The transactional outbox: events are written with the change, then relayed to Kafka.

A service never produces to Kafka directly. It calls :func:`add_event` inside its unit of
work; the row commits or rolls back with the change, so no event is published for a
rolled-back change and none is lost while Kafka is down (ARCHITECTURE.md, "The bus").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
import msgspec
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.partitioner import DefaultPartitioner
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from copa_contracts.envelope import Envelope, Event
from copa_contracts.topic import Topic
from copa_runtime import metrics
from copa_runtime.db import Database
from copa_runtime.errors import is_infrastructure_failure
from copa_runtime.kafka import ensure_topics, make_producer, topics_with_dead_letters
from copa_runtime.logging import correlation_id
from copa_runtime.tables import OUTBOX_NOTIFY_CHANNEL

log = logging.getLogger(__name__)

_PARTITIONER = DefaultPartitioner()
_PARTITIONS_OF_KEY: dict[tuple[bytes, int], int] = {}


def _partition_of(key: bytes, partitions: list[int]) -> int:
    """The partition a key hashes to (murmur2, as every Kafka client), remembered: murmur2 is
    pure Python in aiokafka and a race's few thousand chips repeat all day."""
    slot = (key, len(partitions))
    partition = _PARTITIONS_OF_KEY.get(slot)
    if partition is None:
        if len(_PARTITIONS_OF_KEY) >= 100_000:
            _PARTITIONS_OF_KEY.clear()
        partition = _PARTITIONS_OF_KEY[slot] = _PARTITIONER(key, partitions, partitions)
    return partition


PRODUCER_INFO_KEY = "copa.producer"


async def add_event(session: AsyncSession, topic: Topic, event: Event, *, key: str) -> Envelope:
    """Record ``event`` for publication on ``topic`` when (and only if) the session commits."""
    return (await add_events(session, topic, [(event, key)]))[0]


async def add_events(
    session: AsyncSession,
    topic: Topic,
    events: Iterable[tuple[Event, str]],
    *,
    event_ids: Sequence[uuid.UUID] | None = None,
) -> list[Envelope]:
    """Many events in one statement (a burst of reads costs one insert, not thousands).

    ``event_ids`` gives events an identity of their own (a chip read's id is derived from the
    read, so a re-sent read is the same event everywhere); otherwise each gets a new one.
    """
    producer = session.info.get(PRODUCER_INFO_KEY, "unknown")
    cid = correlation_id.get()
    envelopes = []
    for index, (event, key) in enumerate(events):
        topic.event_class(event.event_type, event.event_version)  # refuse a foreign event
        envelopes.append(
            Envelope.wrap(
                event,
                producer=producer,
                key=key,
                correlation_id=cid,
                event_id=event_ids[index] if event_ids is not None else None,
            )
        )
    if envelopes:
        await _insert(
            session,
            topic.name,
            [(e.event_id, e.key, e.type, e.to_bytes()) for e in envelopes],
        )
    return envelopes


async def add_event_payloads(
    session: AsyncSession,
    topic: Topic,
    event_class: type[Event],
    payloads: Sequence[tuple[uuid.UUID | str, str, dict[str, Any]]],
    *,
    requeue: bool = False,
) -> int:
    """The hot path of :func:`add_events`: ``(event_id, key, payload)`` with payloads as plain
    dicts, serialized straight to the envelope's JSON without building models.

    For producers that emit thousands of events per request (timing ingest's reads), where
    building a pydantic model and an envelope per event costs more than everything else. An
    event id may come as a UUID's canonical string (``8-4-4-4-12``, lower case).

    ``requeue``: an event already in the outbox (the same ``event_id``) is queued again
    where it stands instead of refused (a replay of events already sent once). The
    caller has validated its input and guarantees each payload is a valid ``event_class``;
    its tests prove the bytes parse to the same event the model path would write.
    """
    topic.event_class(event_class.event_type, event_class.event_version)
    if not payloads:
        return 0
    producer = session.info.get(PRODUCER_INFO_KEY, "unknown")
    head = {
        "type": event_class.event_type,
        "version": event_class.event_version,
        "occurred_at": datetime.now(UTC),
        "producer": producer,
        "correlation_id": correlation_id.get(),
    }
    encode = msgspec.json.encode
    event_type = event_class.event_type
    await _insert(
        session,
        topic.name,
        requeue=requeue,
        rows=[
            (
                event_id,
                key,
                event_type,
                encode({"event_id": event_id, "key": key, **head, "payload": payload}),
            )
            for event_id, key, payload in payloads
        ],
    )
    return len(payloads)


async def _insert(
    session: AsyncSession,
    topic: str,
    rows: Sequence[tuple[uuid.UUID | str, str, str, bytes]],
    *,
    requeue: bool = False,
) -> None:
    """Outbox rows ``(event_id, key, event_type, envelope JSON)`` in one statement.

    The rows travel as one JSON document that PostgreSQL unpacks (``json_to_recordset``):
    asyncpg encodes arrays element by element in Python (several microseconds per row for a
    burst of reads), while one text parameter costs next to nothing. Each envelope is
    embedded as raw JSON and ``json`` keeps its text verbatim, so the stored bytes are exactly
    the envelope's.
    """
    raw = msgspec.Raw
    document = msgspec.json.encode(
        [
            {"i": event_id, "k": key, "t": kind, "v": raw(value)}
            for event_id, key, kind, value in rows
        ]
    )
    statement = _INSERT_OR_REQUEUE if requeue else _INSERT
    await session.execute(statement, {"topic": topic, "rows": document.decode()})


# One short statement for any number of events (one JSON parameter, not thousands of binds).
_INSERT_SQL = (
    "INSERT INTO outbox (event_id, topic, key, event_type, value) "
    "SELECT e.i, :topic, e.k, e.t, convert_to(e.v::text, 'UTF8') "
    "FROM ROWS FROM (json_to_recordset(CAST(:rows AS json)) AS (i uuid, k text, t text, v json)) "
    "WITH ORDINALITY AS e(i, k, t, v, n) ORDER BY e.n"
)
_INSERT = text(_INSERT_SQL)
_INSERT_OR_REQUEUE = text(_INSERT_SQL + " ON CONFLICT (event_id) DO UPDATE SET published_at = NULL")


class TopicsVanished(ConnectionError):
    """The broker lost topics under a running producer (an embedded broker restarted)."""


_CLAIM = text(
    "SELECT id, topic, key, value FROM outbox WHERE published_at IS NULL "
    "ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED"
)
# Ids travel as one array literal (`{1,2,3}`): asyncpg's array encoding costs microseconds
# per element, which is most of the relay's time for a batch of thousands.
_MARK = text("UPDATE outbox SET published_at = now() WHERE id = ANY(CAST(:ids AS text)::bigint[])")
_BUMP = text(
    "UPDATE outbox SET attempts = attempts + 1 WHERE id = ANY(CAST(:ids AS text)::bigint[])"
)


def _id_array(ids: Sequence[int]) -> str:
    return "{" + ",".join(map(str, ids)) + "}"


# One relay per service database publishes; replicas stand by on this advisory lock, so the
# order of the outbox (commit order) is the order on each partition.
_RELAY_LOCK_KEY = 0x0C0BA_0001


class OutboxRelay:
    """Publishes committed outbox rows in order, keyed, with ``acks=all``; marks them sent.

    If the broker cannot be reached the rows stay unpublished and the relay retries with
    backoff; on recovery it re-creates topics (an embedded broker restarts empty) and goes on.
    A row is marked only after the broker acknowledged it, so a crash can publish a row twice,
    never lose one: consumers deduplicate on ``event_id``.
    """

    lock_key = _RELAY_LOCK_KEY
    """Advisory lock the publishing replica holds (one publisher per stream and database)."""
    notify_channel = OUTBOX_NOTIFY_CHANNEL
    """Channel a commit of new rows is announced on (a statement trigger)."""
    linger_s = 0.0
    """How long to wait after a wake-up before publishing, so that the commits of a burst go
    out as one batch (each batch costs a metadata round trip and a transaction)."""
    broker_check_s = 2.0
    """While nothing is to be published, how often the relay makes sure the broker is still
    there: one that went away unnoticed may come back empty, and must be refilled before
    anything new is published (:meth:`refill_if_lost`)."""

    def __init__(
        self,
        db: Database,
        bootstrap_servers: str,
        *,
        topics: Iterable[Topic],
        service: str,
        batch_size: int = 2000,
        idle_poll_s: float = 0.5,
        publish_timeout_s: float = 15.0,
    ) -> None:
        self.db = db
        self.bootstrap_servers = bootstrap_servers
        self.topics = list(topics)
        self.service = service
        self.batch_size = batch_size
        self.idle_poll_s = idle_poll_s
        self.publish_timeout_s = publish_timeout_s
        self._wakeup = asyncio.Event()
        self._producer: AIOKafkaProducer | None = None
        self.published = 0

    async def run(self) -> None:
        """Publish until cancelled, surviving database and broker outages."""
        backoff = 0.1
        while True:
            try:
                await self._lead_and_publish()
            except asyncio.CancelledError:
                await self._close_producer()
                raise
            except Exception as exc:
                level = logging.WARNING if is_infrastructure_failure(exc) else logging.ERROR
                log.log(
                    level,
                    "outbox relay interrupted; retrying",
                    exc_info=exc,
                    extra={"retry_in_s": backoff},
                )
                await self._close_producer()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            else:
                backoff = 0.1

    async def _lead_and_publish(self) -> None:
        conn: asyncpg.Connection = await asyncpg.connect(self._dsn())
        try:
            while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", self.lock_key):
                await asyncio.sleep(1.0)  # another replica is relaying this database
            await conn.add_listener(self.notify_channel, self._on_notify)
            producer = await self._ensure_producer()
            seen_broker = time.monotonic()
            while True:
                if conn.is_closed():
                    raise ConnectionError("outbox relay lost its database connection")
                self._wakeup.clear()
                sent = await self.publish_once(producer)
                if sent:
                    seen_broker = time.monotonic()
                if sent < self.batch_size:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wakeup.wait(), self.idle_poll_s)
                    if self.linger_s and self._wakeup.is_set():
                        await asyncio.sleep(self.linger_s)  # let a burst's next commits join
                    elif time.monotonic() - seen_broker > self.broker_check_s:
                        # Idle: an unreachable broker ends this lead (the producer is made
                        # again, and the broker's content checked, once it answers).
                        await asyncio.wait_for(
                            producer.client.fetch_all_metadata(), self.publish_timeout_s
                        )
                        seen_broker = time.monotonic()
        finally:
            await conn.close(timeout=2)

    async def publish_once(self, producer: AIOKafkaProducer) -> int:
        """Publish one batch of unpublished rows; return how many were published."""
        started = time.perf_counter()
        claimed: list[int] = []
        try:
            async with self.db.unit_of_work() as session:
                rows = (await session.execute(_CLAIM, {"limit": self.batch_size})).all()
                if not rows:
                    return 0
                claimed = [row.id for row in rows]
                # Bounded: a broker that vanished (or came back without the topic) must fail
                # the batch so the relay can reconnect and re-create topics, not hang on it.
                await asyncio.wait_for(self._send_all(producer, rows), self.publish_timeout_s)
                await session.execute(_MARK, {"ids": _id_array(claimed)})
        except Exception:
            if claimed:  # after the rollback released the rows' locks
                await self._bump_attempts(claimed)
            raise
        self.published += len(claimed)
        metrics.OUTBOX_PUBLISHED.labels(self.service).inc(len(claimed))
        metrics.OUTBOX_BATCH_SECONDS.labels(self.service).observe(time.perf_counter() - started)
        return len(claimed)

    @staticmethod
    async def _send_all(producer: AIOKafkaProducer, rows: Sequence[Any]) -> None:
        """Send rows as record batches, one stream per partition, in outbox order.

        Rows (anything with ``topic``, ``key`` and ``value``) go to the partition the key
        hashes to (murmur2, as every Kafka client), appended to one batch per partition; a
        partition's batches are sent in order and aiokafka keeps one batch in flight per
        partition, so each key's order is the commit order.
        This costs a fraction of one ``send()`` per row.
        """
        partitions: dict[str, list[int]] = {}
        open_batches: dict[tuple[str, int], Any] = {}
        pending = []
        for row in rows:
            if row.topic not in partitions:
                partitions[row.topic] = sorted(await producer.partitions_for(row.topic))
            key = row.key.encode()
            partition = _partition_of(key, partitions[row.topic])
            slot = (row.topic, partition)
            batch = open_batches.get(slot)
            if batch is None:
                batch = open_batches[slot] = producer.create_batch()
            if batch.append(key=key, value=row.value, timestamp=None) is None:  # full
                batch.close()
                pending.append(await producer.send_batch(batch, row.topic, partition=partition))
                batch = open_batches[slot] = producer.create_batch()
                batch.append(key=key, value=row.value, timestamp=None)
        for (topic, partition), batch in open_batches.items():
            batch.close()
            pending.append(await producer.send_batch(batch, topic, partition=partition))
        await asyncio.gather(*pending)
        # The embedded broker acknowledges a produce to a topic it no longer has (after a
        # restart it is empty, and the producer still holds the old metadata). So a batch
        # counts as published only if its topics still exist once the acks are in.
        cluster = await producer.client.fetch_all_metadata()
        vanished = set(partitions) - cluster.topics()
        if vanished:
            raise TopicsVanished(f"the broker no longer has {sorted(vanished)}")

    async def _bump_attempts(self, ids: list[int]) -> None:
        try:
            async with self.db.unit_of_work() as session:
                await session.execute(_BUMP, {"ids": _id_array(ids)})
        except Exception:  # the count is for operators only; never mask the real failure
            log.debug("could not count outbox attempts", exc_info=True)

    async def _ensure_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            await ensure_topics(self.bootstrap_servers, topics_with_dead_letters(self.topics))
            producer = make_producer(self.bootstrap_servers, client_id=f"{self.service}-outbox")
            try:
                await producer.start()
                await self.refill_if_lost(producer)
            except BaseException:
                await producer.stop()
                raise
            self._producer = producer
        return self._producer

    async def refill_if_lost(self, producer: AIOKafkaProducer) -> int:
        """Before publishing anything on a (re)connected broker: where a topic holds fewer
        records than this outbox ever published to it, the broker lost them (the embedded one
        restarts empty, a topic was deleted), so everything published to that topic is queued
        again, in front of what is new. Returns how many rows were queued again.

        Publishing the new events first and the old ones later (``copa republish``) would
        hand consumers a participant's kit before the payment that made them a participant;
        refilled first, each topic's history is in its original order again. Offsets only
        grow on a broker that keeps its data (retention and compaction do not lower them),
        so this never fires there; duplicates only raise the count, which is safe.
        """
        async with self.db.unit_of_work() as session:
            rows = await session.execute(
                text(
                    "SELECT topic, count(*) FROM outbox WHERE published_at IS NOT NULL "
                    "AND topic = ANY(CAST(:topics AS text[])) GROUP BY topic"
                ),
                {"topics": [topic.name for topic in self.topics]},
            )
            published = {topic: int(count) for topic, count in rows.all()}
        lost = await topics_holding_fewer(self.bootstrap_servers, producer, published)
        if not lost:
            return 0
        async with self.db.unit_of_work() as session:
            result = await session.execute(
                text(
                    "UPDATE outbox SET published_at = NULL WHERE published_at IS NOT NULL "
                    "AND topic = ANY(CAST(:topics AS text[]))"
                ),
                {"topics": lost},
            )
        requeued = int(result.rowcount)  # type: ignore[attr-defined]
        log.warning(
            "the broker lost published events; publishing them again first",
            extra={"topics": lost, "requeued": requeued, "service": self.service},
        )
        return requeued

    async def _close_producer(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            try:
                await asyncio.wait_for(producer.stop(), 5)
            except Exception:
                log.debug("producer did not stop cleanly", exc_info=True)

    def _on_notify(self, *_: object) -> None:
        self._wakeup.set()

    def _dsn(self) -> str:
        return self.db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


async def topics_holding_fewer(
    bootstrap_servers: str, producer: AIOKafkaProducer, published: dict[str, int]
) -> list[str]:
    """The topics of ``published`` whose partitions hold fewer records in all than it says
    were published to them (end offsets summed: each record ever appended counts once)."""
    wanted = {topic: count for topic, count in published.items() if count}
    if not wanted:
        return []
    reader = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, group_id=None, enable_auto_commit=False
    )
    await reader.start()
    try:
        partitions = [
            TopicPartition(topic, partition)
            for topic in sorted(wanted)
            for partition in sorted(await producer.partitions_for(topic))
        ]
        ends = await reader.end_offsets(partitions)
    finally:
        await reader.stop()
    held: dict[str, int] = {}
    for tp, end in ends.items():
        held[tp.topic] = held.get(tp.topic, 0) + end
    return [topic for topic, count in wanted.items() if held.get(topic, 0) < count]


async def republish(session: AsyncSession, event_ids: Sequence[uuid.UUID] | None = None) -> int:
    """Queue already published events for publication again; return how many.

    Published rows stay in the outbox for this: after a broker lost its content (an embedded
    broker restarted), or for a recomputation downstream, the outbox is the source of truth.
    They go out again in their original order with their own event ids, so consumers that
    applied them already skip them. ``None`` republishes everything this service produced.
    """
    if event_ids is None:
        result = await session.execute(
            text("UPDATE outbox SET published_at = NULL WHERE published_at IS NOT NULL")
        )
    else:
        result = await session.execute(
            text(
                "UPDATE outbox SET published_at = NULL "
                "WHERE published_at IS NOT NULL AND event_id = ANY(CAST(:ids AS uuid[]))"
            ),
            {"ids": list(event_ids)},
        )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def backlog(db: Database) -> int:
    """Unpublished events waiting in the outbox (a readiness detail and a metric)."""
    async with db.unit_of_work() as session:
        count = await session.scalar(text("SELECT count(*) FROM outbox WHERE published_at IS NULL"))
    return int(count or 0)
