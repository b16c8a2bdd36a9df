"""The idempotent batch consumer: the only way a service reads the bus.

One ``getmany`` batch is applied in one database transaction that also writes a tracking row
(consumer, event_id) per event; a primary key makes a redelivered event a no-op. Offsets are
committed to Kafka only after that transaction commits, so a crash anywhere replays the batch
and changes nothing twice (ARCHITECTURE.md, "Idempotent consumers").
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from copa_contracts.dead_letter import DeadLetter
from copa_contracts.envelope import Envelope, Event
from copa_contracts.topic import Topic, UnknownEventType, dead_letter_topic
from copa_runtime import metrics
from copa_runtime.db import Database
from copa_runtime.errors import PermanentError, is_infrastructure_failure
from copa_runtime.kafka import ensure_topics, make_consumer, make_producer, topics_with_dead_letters
from copa_runtime.logging import correlation_id

log = logging.getLogger(__name__)

Handler = Callable[[AsyncSession, Any, Envelope], Awaitable[None]]
"""Applies one event inside the batch's transaction."""
BatchHandler = Callable[[AsyncSession, list[tuple[Any, Envelope]]], Awaitable[None]]
"""Applies a run of consecutive events of one type at once (a burst of reads in one
statement); runs are cut wherever another type intervenes, so the stream's order holds."""
BatchScope = Callable[[AsyncSession], contextlib.AbstractAsyncContextManager[None]]
"""Wraps the handlers of one batch inside its transaction: what it does on leaving happens
once per batch, before the commit (derived tables brought up to date once, not per event)."""

# Tracking rows for a whole batch in one short statement (arrays, not thousands of binds);
# RETURNING gives the ids seen for the first time, the only ones whose effects are applied.
_TRACK = text(
    "INSERT INTO processed_events (consumer, event_id, topic) "
    "SELECT :consumer, e.id, e.topic FROM unnest(CAST(:ids AS uuid[]), CAST(:topics AS text[])) "
    "AS e(id, topic) ON CONFLICT DO NOTHING RETURNING event_id"
)


@dataclass(frozen=True)
class Subscription:
    """What one consumer group of a service reads and how it applies each event type.

    Events of the subscribed topics that have no handler are recorded and skipped: a topic
    carries more event types than any one consumer cares about.
    """

    name: str
    topics: Sequence[Topic]
    handlers: Mapping[type[Event], Handler] = field(default_factory=dict)
    batch_handlers: Mapping[type[Event], BatchHandler] = field(default_factory=dict)
    batch_scope: BatchScope | None = None


@dataclass
class _Item:
    record: ConsumerRecord[bytes, bytes]
    envelope: Envelope
    event: Event


class BatchConsumer:
    """Runs one :class:`Subscription` for one service against one database."""

    def __init__(
        self,
        subscription: Subscription,
        db: Database,
        bootstrap_servers: str,
        *,
        service: str,
        fetch_max_wait_ms: int = 20,
        max_records: int = 2000,
        session_timeout_ms: int = 10_000,
        max_attempts: int = 5,
        retry_backoff_s: float = 0.2,
    ) -> None:
        self.subscription = subscription
        self.db = db
        self.bootstrap_servers = bootstrap_servers
        self.service = service
        self.group_id = f"{service}.{subscription.name}"
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self.max_records = max_records
        self.session_timeout_ms = session_timeout_ms
        self.max_attempts = max_attempts
        self.retry_backoff_s = retry_backoff_s
        self._topics = {topic.name: topic for topic in subscription.topics}
        self._consumer: AIOKafkaConsumer | None = None
        self._dead_letters: AIOKafkaProducer | None = None
        self.ready = asyncio.Event()

    @property
    def assigned(self) -> bool:
        """True once the group gave this member partitions (it joined and can consume)."""
        return self._consumer is not None and bool(self._consumer.assignment())

    # -- life cycle -----------------------------------------------------------------------

    async def run(self) -> None:
        """Consume until cancelled; reconnect after broker or database outages."""
        backoff = self.retry_backoff_s
        while True:
            try:
                await self._start()
                backoff = self.retry_backoff_s
                while True:
                    await self.poll_once()
            except asyncio.CancelledError:
                await self._stop()
                raise
            except Exception as exc:
                log.warning("consumer %s interrupted; restarting", self.group_id, exc_info=exc)
                metrics.CONSUMER_RETRIES.labels(
                    self.service, self.subscription.name, "restart"
                ).inc()
                await self._stop()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _start(self) -> None:
        await ensure_topics(
            self.bootstrap_servers, topics_with_dead_letters(self.subscription.topics)
        )
        consumer = make_consumer(
            self.bootstrap_servers,
            group_id=self.group_id,
            client_id=f"{self.group_id}-{id(self):x}",
            fetch_max_wait_ms=self.fetch_max_wait_ms,
            session_timeout_ms=self.session_timeout_ms,
            max_records=self.max_records,
        )
        producer = make_producer(self.bootstrap_servers, client_id=f"{self.group_id}-dlq")
        self._consumer, self._dead_letters = consumer, producer
        await producer.start()
        consumer.subscribe(list(self._topics))
        await consumer.start()
        self.ready.set()

    async def _stop(self) -> None:
        self.ready.clear()
        consumer, self._consumer = self._consumer, None
        producer, self._dead_letters = self._dead_letters, None
        for client in (consumer, producer):
            if client is not None:
                try:
                    await asyncio.wait_for(client.stop(), 10)
                except Exception:
                    log.debug("kafka client did not stop cleanly", exc_info=True)

    # -- one batch ------------------------------------------------------------------------

    async def poll_once(self, timeout_ms: int = 1000) -> int:
        """Fetch one batch, apply it, commit offsets; return the number of records handled."""
        consumer = self._consumer
        assert consumer is not None, "consumer not started"
        batches = await consumer.getmany(timeout_ms=timeout_ms, max_records=self.max_records)
        records = [record for part in batches.values() for record in part]
        if not records:
            return 0
        started = time.perf_counter()
        try:
            await self._handle(records)
        except Exception as exc:
            if not is_infrastructure_failure(exc):
                raise
            # The database or broker is down, not the messages: rewind and fetch them again
            # after a pause, however long the outage (nothing is dead-lettered for it).
            log.warning("batch deferred: infrastructure failure", exc_info=exc)
            metrics.CONSUMER_RETRIES.labels(
                self.service, self.subscription.name, "infrastructure"
            ).inc()
            for tp, part in batches.items():
                consumer.seek(tp, part[0].offset)
            await asyncio.sleep(self.retry_backoff_s)
            return 0
        await consumer.commit({tp: part[-1].offset + 1 for tp, part in batches.items()})
        metrics.CONSUMER_BATCH_SECONDS.labels(self.service, self.subscription.name).observe(
            time.perf_counter() - started
        )
        return len(records)

    async def _handle(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        items: list[_Item] = []
        for record in records:
            try:
                envelope = Envelope.from_bytes(record.value or b"")
                event = self._topics[record.topic].parse(envelope)
            except (ValidationError, UnknownEventType, ValueError) as exc:
                await self._dead_letter(record, exc, attempts=1)
                continue
            items.append(_Item(record, envelope, event))
        if not items:
            return
        try:
            await self._apply(items)
        except Exception as exc:
            if is_infrastructure_failure(exc):
                raise
            await self._apply_one_by_one(items)

    async def _apply_one_by_one(self, items: list[_Item]) -> None:
        """Isolate the message that fails so the rest of the batch is still applied."""
        for item in items:
            attempt = 0
            while True:
                attempt += 1
                try:
                    await self._apply([item])
                    break
                except Exception as exc:
                    if is_infrastructure_failure(exc):
                        raise
                    if isinstance(exc, PermanentError) or attempt >= self.max_attempts:
                        await self._dead_letter(item.record, exc, attempts=attempt)
                        break
                    metrics.CONSUMER_RETRIES.labels(
                        self.service, self.subscription.name, "handler"
                    ).inc()
                    await asyncio.sleep(self.retry_backoff_s * 2 ** (attempt - 1))

    async def _apply(self, items: list[_Item]) -> None:
        """One transaction: tracking rows for every event, effects for the new ones only."""
        outcome = {"applied": 0, "duplicate": 0, "ignored": 0}
        async with self.db.unit_of_work() as session:
            inserted = await session.execute(
                _TRACK,
                {
                    "consumer": self.group_id,
                    "ids": [item.envelope.event_id for item in items],
                    "topics": [item.record.topic for item in items],
                },
            )
            fresh = set(inserted.scalars())
            scope = self.subscription.batch_scope
            async with scope(session) if scope is not None else contextlib.nullcontext():
                await self._apply_fresh(session, items, fresh, outcome)
        for name, count in outcome.items():
            if count:
                metrics.CONSUMED.labels(self.service, self.subscription.name, name).inc(count)

    async def _apply_fresh(
        self,
        session: AsyncSession,
        items: list[_Item],
        fresh: set[Any],
        outcome: dict[str, int],
    ) -> None:
        """The handlers of the events seen for the first time, in the stream's order."""
        run: list[tuple[Event, Envelope]] = []
        run_handler: BatchHandler | None = None
        for item in items:
            if item.envelope.event_id not in fresh:
                outcome["duplicate"] += 1
                continue
            fresh.discard(item.envelope.event_id)  # the same event twice in one batch
            batch_handler = self.subscription.batch_handlers.get(type(item.event))
            if run and batch_handler is not run_handler:
                await self._call_batch(session, run_handler, run)  # keep the stream's order
                run = []
            if batch_handler is not None:
                run_handler = batch_handler
                run.append((item.event, item.envelope))
                outcome["applied"] += 1
                continue
            run_handler = None
            handler = self.subscription.handlers.get(type(item.event))
            if handler is None:
                outcome["ignored"] += 1
                continue
            token = correlation_id.set(item.envelope.correlation_id)
            try:
                await handler(session, item.event, item.envelope)
            finally:
                correlation_id.reset(token)
            outcome["applied"] += 1
        if run:
            await self._call_batch(session, run_handler, run)

    @staticmethod
    async def _call_batch(
        session: AsyncSession,
        handler: BatchHandler | None,
        run: list[tuple[Event, Envelope]],
    ) -> None:
        assert handler is not None
        await handler(session, run)

    async def _dead_letter(
        self, record: ConsumerRecord[bytes, bytes], exc: BaseException, *, attempts: int
    ) -> None:
        """Park a message that can never be processed, with its error; the consumer goes on."""
        producer = self._dead_letters
        assert producer is not None
        letter = DeadLetter(
            source_topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key.decode(errors="replace") if record.key is not None else None,
            consumer=self.group_id,
            error=str(exc)[:4000],
            error_type=type(exc).__name__,
            attempts=attempts,
            failed_at=datetime.now(UTC),
            raw_value=base64.b64encode(record.value or b"").decode(),
        )
        await producer.send_and_wait(
            dead_letter_topic(record.topic), value=letter.model_dump_json().encode(), key=record.key
        )
        log.error(
            "message dead-lettered",
            extra={
                "topic": record.topic,
                "partition": record.partition,
                "offset": record.offset,
                "error_type": type(exc).__name__,
                "error": str(exc)[:500],
            },
        )
        metrics.CONSUMED.labels(self.service, self.subscription.name, "dead_letter").inc()


__all__ = [
    "BatchConsumer",
    "BatchHandler",
    "Handler",
    "Subscription",
]
