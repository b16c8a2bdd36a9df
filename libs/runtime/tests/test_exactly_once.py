"""The outbox -> broker -> idempotent consumer pipeline delivers each committed change's event
to the consumer's effects exactly once, on a real PostgreSQL and a real Kafka-protocol broker.
"""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from prometheus_client import REGISTRY
from sqlalchemy import text

from copa_contracts.dead_letter import DeadLetter
from copa_contracts.envelope import Envelope
from copa_contracts.topic import Topic
from copa_runtime.consumer import BatchConsumer, Subscription
from copa_runtime.db import Database
from copa_runtime.kafka import ensure_topics, topics_with_dead_letters
from copa_runtime.outbox import OutboxRelay, add_events, backlog
from copa_runtime.reference.pipeline import (
    SERVICE,
    Ping,
    commit_pings,
    effect_counts,
    ping_topic,
    subscription,
)


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


@asynccontextmanager
async def running(*workers: OutboxRelay | BatchConsumer) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(worker.run()) for worker in workers]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def relay(db: Database, bootstrap: str, topic: Topic) -> OutboxRelay:
    return OutboxRelay(db, bootstrap, topics=[topic], service=SERVICE, idle_poll_s=0.1)


def consumer(db: Database, bootstrap: str, sub: Subscription, **kw: int) -> BatchConsumer:
    return BatchConsumer(
        sub, db, bootstrap, service=SERVICE, session_timeout_ms=6000, retry_backoff_s=0.05, **kw
    )


async def exactly(db: Database, expected: int) -> bool:
    rows, distinct = await effect_counts(db)
    assert rows == distinct, f"an effect was applied twice: {rows} rows for {distinct} pings"
    return rows == expected


async def test_committed_change_reaches_consumer_exactly_once(pipeline_db, kafka_bootstrap):
    topic = ping_topic()
    await commit_pings(pipeline_db, topic, range(500))
    async with running(
        relay(pipeline_db, kafka_bootstrap, topic),
        consumer(pipeline_db, kafka_bootstrap, subscription(topic)),
    ):
        await eventually(lambda: exactly(pipeline_db, 500))
        await eventually(lambda: _zero(backlog(pipeline_db)))
    assert await exactly(pipeline_db, 500)


async def _zero(count: Awaitable[int]) -> bool:
    return await count == 0


async def test_rolled_back_change_publishes_nothing(pipeline_db, kafka_bootstrap):
    topic = ping_topic()
    with pytest.raises(RuntimeError, match="refused"):
        async with pipeline_db.unit_of_work() as session:
            await add_events(session, topic, [(Ping(n=1), "1")])
            raise RuntimeError("change refused")
    await commit_pings(pipeline_db, topic, range(100, 101))  # a marker that must arrive
    async with running(
        relay(pipeline_db, kafka_bootstrap, topic),
        consumer(pipeline_db, kafka_bootstrap, subscription(topic)),
    ):
        await eventually(lambda: exactly(pipeline_db, 1))
    async with pipeline_db.unit_of_work() as session:
        numbers = (await session.execute(text("SELECT n FROM effects"))).scalars().all()
        outbox_rows = await session.scalar(text("SELECT count(*) FROM outbox"))
    assert numbers == [100]
    assert outbox_rows == 1


async def test_events_wait_in_outbox_while_broker_is_down(pipeline_db, broker_factory):
    broker = broker_factory()
    topic = ping_topic()
    broker.stop()
    await commit_pings(pipeline_db, topic, range(300))  # committed while the broker is down
    the_relay = relay(pipeline_db, broker.bootstrap, topic)
    async with running(the_relay):
        await asyncio.sleep(2.0)  # the relay tries, fails, keeps the events
        assert await backlog(pipeline_db) == 300
        broker.start()  # an embedded broker comes back empty: the relay recreates topics
        await eventually(lambda: _zero(backlog(pipeline_db)), timeout=90)
    async with running(consumer(pipeline_db, broker.bootstrap, subscription(topic))):
        await eventually(lambda: exactly(pipeline_db, 300))


async def test_broker_stopped_mid_stream_loses_and_doubles_nothing(pipeline_db, broker_factory):
    broker = broker_factory()
    topic = ping_topic()
    await ensure_topics(broker.bootstrap, topics_with_dead_letters([topic]))
    the_relay = relay(pipeline_db, broker.bootstrap, topic)
    async with running(the_relay):
        await commit_pings(pipeline_db, topic, range(0, 200))
        await eventually(lambda: _zero(backlog(pipeline_db)))
        broker.stop()
        await commit_pings(pipeline_db, topic, range(200, 400))
        await asyncio.sleep(1.0)
        assert await backlog(pipeline_db) == 200
        broker.start()
        await eventually(lambda: _zero(backlog(pipeline_db)), timeout=90)
    # Whatever the restarted embedded broker kept of the first 200 (a memory broker may keep
    # nothing; rebuilding that is the republish command's job), every event committed while
    # it was down must arrive, and none twice.
    async with running(consumer(pipeline_db, broker.bootstrap, subscription(topic))):
        await eventually(lambda: _all_arrived(pipeline_db, range(200, 400)))
    rows, distinct = await effect_counts(pipeline_db)
    assert rows == distinct


async def test_a_broker_back_empty_gets_the_whole_stream_again_in_its_order(
    pipeline_db, broker_factory
):
    """The relay finds a (re)connected broker holding fewer records than it published, and
    queues everything published again before anything new: after an outage during which new
    events waited, and after one it only noticed while idle, the topic holds every event,
    each key's events in the order they were committed (old before new)."""
    broker = broker_factory()
    topic = ping_topic()
    the_relay = relay(pipeline_db, broker.bootstrap, topic)
    async with running(the_relay):
        await commit_pings(pipeline_db, topic, range(0, 100))
        await eventually(lambda: _zero(backlog(pipeline_db)))
        broker.stop()
        await commit_pings(pipeline_db, topic, range(100, 150))  # waiting in the outbox
        await asyncio.sleep(1.0)
        broker.start()
        await eventually(lambda: _zero(backlog(pipeline_db)), timeout=90)
        assert await _on_topic(broker.bootstrap, topic.name) == list(range(150))
        broker.stop()  # nothing to publish meanwhile: noticed by the idle check
        await asyncio.sleep(the_relay.broker_check_s + 2)
        broker.start()
        await asyncio.sleep(1.0)
        await commit_pings(pipeline_db, topic, range(150, 160))
        await eventually(lambda: _zero(backlog(pipeline_db)), timeout=90)
        assert await _on_topic(broker.bootstrap, topic.name) == list(range(160))


async def _on_topic(bootstrap: str, topic: str) -> list[int]:
    """The pings on ``topic`` (first copy of each), checked to be in ascending order within
    each partition (the commit order of each key), then sorted."""
    reader = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await reader.start()
    by_partition: dict[int, list[int]] = {}
    try:
        while batch := await reader.getmany(timeout_ms=1500):
            for tp, records in batch.items():
                by_partition.setdefault(tp.partition, []).extend(
                    Envelope.from_bytes(r.value or b"").payload["n"] for r in records
                )
    finally:
        await reader.stop()
    found: list[int] = []
    for numbers in by_partition.values():
        first = list(dict.fromkeys(numbers))
        assert first == sorted(first), first
        found.extend(first)
    return sorted(found)


async def _all_arrived(db: Database, numbers: range) -> bool:
    async with db.unit_of_work() as session:
        seen = set((await session.execute(text("SELECT n FROM effects"))).scalars())
    return set(numbers) <= seen


async def test_consumer_killed_mid_batch_applies_each_event_once(pipeline_db, kafka_bootstrap):
    topic = ping_topic()
    await commit_pings(pipeline_db, topic, range(400))
    url = pipeline_db.engine.url.render_as_string(hide_password=False)
    async with running(relay(pipeline_db, kafka_bootstrap, topic)):
        await eventually(lambda: _zero(backlog(pipeline_db)))
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "copa_runtime.reference.consume",
            "--database-url",
            url,
            "--bootstrap",
            kafka_bootstrap,
            "--topic",
            topic.name,
            "--delay-s",
            "0.01",
            "--max-records",
            "200",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 60)
        assert line.strip() == "applying"
        await asyncio.sleep(0.5)  # inside the first batch's transaction
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    rows_after_kill, _ = await effect_counts(pipeline_db)
    assert rows_after_kill < 400, "the killed consumer had finished; the test proves nothing"
    async with running(consumer(pipeline_db, kafka_bootstrap, subscription(topic))):
        await eventually(lambda: exactly(pipeline_db, 400), timeout=60)


async def test_message_delivered_twice_is_applied_once(pipeline_db, kafka_bootstrap):
    topic = ping_topic(partitions=1)
    await ensure_topics(kafka_bootstrap, topics_with_dead_letters([topic]))
    envelopes = [Envelope.wrap(Ping(n=n), producer=SERVICE, key=str(n)) for n in range(50)]
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for _ in range(2):  # the whole stream twice, as a re-sending producer would
            for envelope in envelopes:
                await producer.send(topic.name, envelope.to_bytes(), key=envelope.key.encode())
        await producer.flush()
    finally:
        await producer.stop()
    async with running(consumer(pipeline_db, kafka_bootstrap, subscription(topic))):
        await eventually(lambda: exactly(pipeline_db, 50))
        await asyncio.sleep(0.5)
    # The group's offsets rewound to the start (a rebalance, an operator's reset): still once.
    again = consumer(pipeline_db, kafka_bootstrap, subscription(topic))
    await again._start()
    try:
        assert again._consumer is not None
        await eventually(lambda: _assigned(again))
        await again._consumer.seek_to_beginning()
        replayed = 0
        deadline = time.monotonic() + 20
        while replayed < 100 and time.monotonic() < deadline:
            replayed += await again.poll_once()
    finally:
        await again._stop()
    assert replayed == 100
    assert await exactly(pipeline_db, 50)


async def _assigned(c: BatchConsumer) -> bool:
    assert c._consumer is not None
    if not c._consumer.assignment():
        await c._consumer.getmany(timeout_ms=100)
        return bool(c._consumer.assignment())
    return True


async def test_poison_message_is_dead_lettered_and_consumer_goes_on(pipeline_db, kafka_bootstrap):
    topic = ping_topic(partitions=1)
    await ensure_topics(kafka_bootstrap, topics_with_dead_letters([topic]))
    good = [Envelope.wrap(Ping(n=n), producer=SERVICE, key=str(n)) for n in range(10)]
    rule_breaker = Envelope.wrap(Ping(n=99, poison=True), producer=SERVICE, key="99")
    stream = [
        good[0].to_bytes(),
        b"{not json",
        good[1].to_bytes(),
        good[2].to_bytes().replace(b'"test.ping"', b'"test.unknown"'),
        rule_breaker.to_bytes(),
    ] + [e.to_bytes() for e in good[3:]]
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for value in stream:
            await producer.send(topic.name, value, key=b"k")
        await producer.flush()
    finally:
        await producer.stop()
    async with running(consumer(pipeline_db, kafka_bootstrap, subscription(topic))):
        await eventually(lambda: exactly(pipeline_db, 9))  # good[2] went out as unknown type
    letters = await _read_all(kafka_bootstrap, topic.dead_letter_name, expected=3)
    assert [letter.error_type for letter in letters] == [
        "ValidationError",
        "UnknownEventType",
        "PermanentError",
    ]
    assert base64.b64decode(letters[0].raw_value) == b"{not json"
    assert {letter.source_topic for letter in letters} == {topic.name}
    assert [letter.offset for letter in letters] == [1, 3, 4]


async def test_resume_from_offset_inside_a_record_batch(pipeline_db, kafka_bootstrap):
    """A committed offset that falls inside a record batch must not stall the next consumer
    (the embedded broker once stalled there)."""
    topic = ping_topic(partitions=1)
    await ensure_topics(kafka_bootstrap, topics_with_dead_letters([topic]))
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        batch = producer.create_batch()
        for n in range(10):
            envelope = Envelope.wrap(Ping(n=n), producer=SERVICE, key=str(n))
            assert batch.append(key=b"k", value=envelope.to_bytes(), timestamp=None) is not None
        batch.close()
        await (await producer.send_batch(batch, topic.name, partition=0))
    finally:
        await producer.stop()
    first = consumer(pipeline_db, kafka_bootstrap, subscription(topic), max_records=3)
    await first._start()
    try:
        while (await effect_counts(pipeline_db))[0] < 3:
            await first.poll_once()
    finally:
        await first._stop()
    assert await exactly(pipeline_db, 3)  # committed offset 3: inside the 10-record batch
    async with running(consumer(pipeline_db, kafka_bootstrap, subscription(topic))):
        await eventually(lambda: exactly(pipeline_db, 10), timeout=30)


async def _read_all(bootstrap: str, topic: str, expected: int) -> list[DeadLetter]:
    reader = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await reader.start()
    letters: list[DeadLetter] = []
    try:
        deadline = time.monotonic() + 20
        while len(letters) < expected and time.monotonic() < deadline:
            for part in (await reader.getmany(timeout_ms=500)).values():
                letters.extend(DeadLetter.model_validate_json(r.value) for r in part)
    finally:
        await reader.stop()
    return letters


async def test_a_batch_scope_runs_once_per_committed_batch_inside_its_transaction(
    pipeline_db, kafka_bootstrap
):
    """A subscription's ``batch_scope`` wraps each batch's handlers in its transaction: what it
    writes on leaving is written once per committed batch, with that batch's effects, and
    nothing of it survives a batch that was rolled back (a poison message's batch, applied
    again one event at a time)."""
    topic = ping_topic(partitions=1)
    await ensure_topics(kafka_bootstrap, topics_with_dead_letters([topic]))
    async with pipeline_db.unit_of_work() as session:
        await session.execute(text("CREATE TABLE scoped_batches (pings int NOT NULL)"))
    apply_pings = subscription(topic).batch_handlers[Ping]

    async def counting(session, run):
        await apply_pings(session, run)
        session.info["pings"] += len(run)

    @asynccontextmanager
    async def one_row_per_batch(session):
        session.info["pings"] = 0
        yield
        await session.execute(
            text("INSERT INTO scoped_batches (pings) VALUES (:n)"), {"n": session.info["pings"]}
        )

    name = f"scoped-{uuid.uuid4().hex[:8]}"
    scoped = Subscription(
        name=name, topics=[topic], batch_handlers={Ping: counting}, batch_scope=one_row_per_batch
    )

    def committed_batches() -> float:
        labels = {"service": SERVICE, "consumer": name}
        return REGISTRY.get_sample_value("copa_consumer_batch_seconds_count", labels) or 0.0

    async def scope_rows() -> list[int]:
        async with pipeline_db.unit_of_work() as session:
            return list((await session.execute(text("SELECT pings FROM scoped_batches"))).scalars())

    good = [Envelope.wrap(Ping(n=n), producer=SERVICE, key="k") for n in range(30)]
    await _send(kafka_bootstrap, topic, good)
    async with running(consumer(pipeline_db, kafka_bootstrap, scoped)):
        await eventually(lambda: exactly(pipeline_db, 30))

        async def a_row_per_committed_batch() -> bool:  # the metric follows the offset commit
            return len(await scope_rows()) == committed_batches()

        await eventually(a_row_per_committed_batch)
        assert sum(await scope_rows()) == 30

        poisoned = [Envelope.wrap(Ping(n=n), producer=SERVICE, key="k") for n in range(30, 60)]
        poisoned[10] = Envelope.wrap(Ping(n=40, poison=True), producer=SERVICE, key="k")
        await _send(kafka_bootstrap, topic, poisoned)
        await eventually(lambda: exactly(pipeline_db, 59))
        await asyncio.sleep(0.3)
    rows = await scope_rows()
    assert sum(rows) == 59, rows  # every applied ping counted once, the poison's batch undone
    assert all(n > 0 for n in rows), rows


async def _send(bootstrap: str, topic: Topic, envelopes: list[Envelope]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for envelope in envelopes:
            await producer.send(topic.name, envelope.to_bytes(), key=envelope.key.encode())
        await producer.flush()
    finally:
        await producer.stop()
