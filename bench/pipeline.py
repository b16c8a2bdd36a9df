"""Outbox -> broker -> idempotent consumer, measured against the machine's own raw rates.

    uv run python bench/pipeline.py [--events 100000] [--rate 1000] [--seconds 20]

Uses the servers named by DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS when set, else starts an
embedded PostgreSQL and broker (as the test suite does). Every figure is printed next to a
baseline measured in the same run on the same servers:

* raw Kafka: aiokafka producing (``acks=all``) and a consumer reading the same messages,
  first send to last message received;
* raw PostgreSQL: inserting rows in 1,000-row statements;
* the pipeline: changes committed in 1,000-event units of work with their outbox rows, the
  relay publishing them (in this process, as in the producing service), the batch consumer
  applying each once (tracking row + effect row) in its own process, as another service
  would; first commit to last effect; and, at a steady moderate rate, the delay from each
  commit to the consumer's effect (``applied_at`` is taken inside the consumer's transaction,
  just before it commits).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from aiokafka import AIOKafkaConsumer
from benchkit import create_database, percentile, servers
from sqlalchemy import text

from copa_contracts.topic import Topic
from copa_runtime.db import Database
from copa_runtime.kafka import ensure_topics, make_producer
from copa_runtime.migrations import upgrade_async
from copa_runtime.outbox import OutboxRelay, backlog
from copa_runtime.reference.pipeline import (
    MIGRATIONS,
    SERVICE,
    commit_pings,
    effect_counts,
    ping_topic,
)

MESSAGE_BYTES = 300  # about the size of a Ping envelope


async def fresh_database(server_url: str) -> Database:
    url = await create_database(server_url)
    await upgrade_async(MIGRATIONS, url)
    return Database(url, service=SERVICE, pool_size=10)


async def raw_kafka(bootstrap: str, count: int) -> float:
    """Messages per second, first send to last message consumed."""
    topic = f"bench.raw.{uuid.uuid4().hex[:8]}"
    await ensure_topics(bootstrap, [(topic, 6)])
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=20,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    producer = make_producer(bootstrap, client_id="bench-raw")
    await consumer.start()
    await producer.start()
    payload = b"x" * MESSAGE_BYTES
    received = 0
    try:
        started = time.perf_counter()

        async def produce() -> None:
            for start in range(0, count, 2000):
                futures = [
                    await producer.send(topic, payload, key=str(i).encode())
                    for i in range(start, min(count, start + 2000))
                ]
                await asyncio.gather(*futures)

        sending = asyncio.create_task(produce())
        while received < count:
            for part in (await consumer.getmany(timeout_ms=500, max_records=5000)).values():
                received += len(part)
        await sending
        return count / (time.perf_counter() - started)
    finally:
        await producer.stop()
        await consumer.stop()


async def raw_postgres(db: Database, count: int) -> float:
    """Rows per second inserted in 1,000-row statements, one transaction each."""
    async with db.unit_of_work() as session:
        await session.execute(text("CREATE TABLE IF NOT EXISTS raw_rows (n int, v text)"))
    started = time.perf_counter()
    for start in range(0, count, 1000):
        async with db.unit_of_work() as session:
            await session.execute(
                text("INSERT INTO raw_rows (n, v) VALUES (:n, :v)"),
                [{"n": n, "v": "x" * 40} for n in range(start, start + 1000)],
            )
    return count / (time.perf_counter() - started)


@contextmanager
def consumer_process(db: Database, bootstrap: str, topic: Topic) -> Iterator[None]:
    """The consumer runs in its own process, as it does in production (another service)."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "copa_runtime.reference.consume",
            "--database-url",
            db.engine.url.render_as_string(hide_password=False),
            "--bootstrap",
            bootstrap,
            "--topic",
            topic.name,
            "--partitions",
            str(topic.partitions),
            "--max-records",
            "2000",
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        process.terminate()
        process.wait(timeout=30)


async def warmed_up(db: Database, topic: Topic) -> None:
    """Send pings until the consumer applies one: the group has joined (a join takes seconds
    and is not part of the steady pipeline), then clear the slate."""
    async with db.unit_of_work() as session:
        await session.execute(text("TRUNCATE effects, changes"))
    deadline = time.monotonic() + 60
    n = -1
    while (await effect_counts(db))[0] == 0:
        if time.monotonic() > deadline:
            raise TimeoutError("the consumer never applied a warm-up ping")
        await commit_pings(db, topic, range(n, n + 1))
        n -= 1
        await asyncio.sleep(0.5)
    await asyncio.sleep(0.5)
    async with db.unit_of_work() as session:
        await session.execute(text("TRUNCATE effects, changes"))


async def wait_effects(db: Database, count: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while (await effect_counts(db))[0] < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {(await effect_counts(db))[0]} of {count} effects")
        await asyncio.sleep(0.02)


async def pipeline_throughput(db: Database, bootstrap: str, count: int) -> float:
    """Events per second end to end, commits running concurrently with relay and consumer."""
    topic = ping_topic(partitions=6)
    relay = OutboxRelay(db, bootstrap, topics=[topic], service=SERVICE)
    relaying = asyncio.create_task(relay.run())
    try:
        with consumer_process(db, bootstrap, topic):
            await warmed_up(db, topic)
            started = time.perf_counter()
            for start in range(0, count, 1000):
                await commit_pings(db, topic, range(start, start + 1000))
            await wait_effects(db, count, timeout_s=600)
            elapsed = time.perf_counter() - started
            await asyncio.sleep(1.0)  # anything doubled would show up now
            rows, distinct = await effect_counts(db)
            assert rows == distinct == count, (rows, distinct)
            assert await backlog(db) == 0
            return count / elapsed
    finally:
        relaying.cancel()
        await asyncio.gather(relaying, return_exceptions=True)


async def pipeline_latency(db: Database, bootstrap: str, rate: int, seconds: float) -> list[float]:
    """Commit-to-effect delays (ms) at ``rate`` events/s, committed 10 at a time."""
    topic = ping_topic(partitions=6)
    relay = OutboxRelay(db, bootstrap, topics=[topic], service=SERVICE)
    relaying = asyncio.create_task(relay.run())
    committed_at: dict[int, float] = {}
    try:
        with consumer_process(db, bootstrap, topic):
            await warmed_up(db, topic)
            per_commit = 10
            interval = per_commit / rate
            total = int(rate * seconds)
            started = time.perf_counter()
            for index, start in enumerate(range(0, total, per_commit)):
                await commit_pings(db, topic, range(start, start + per_commit))
                now = time.time()
                for n in range(start, start + per_commit):
                    committed_at[n] = now
                pause = started + (index + 1) * interval - time.perf_counter()
                if pause > 0:
                    await asyncio.sleep(pause)
            await wait_effects(db, total, timeout_s=120)
            async with db.unit_of_work() as session:
                rows = (
                    await session.execute(
                        text("SELECT n, extract(epoch FROM applied_at) FROM effects")
                    )
                ).all()
            return [(float(at) - committed_at[n]) * 1000 for n, at in rows]
    finally:
        relaying.cancel()
        await asyncio.gather(relaying, return_exceptions=True)


async def main(args: argparse.Namespace) -> None:
    with ExitStack() as stack:
        server_url, bootstrap = servers(stack)
        db = await fresh_database(server_url)
        try:
            kafka_rate = await raw_kafka(bootstrap, args.events)
            pg_rate = await raw_postgres(db, args.events)
            throughput = await pipeline_throughput(db, bootstrap, args.events)
            delays = await pipeline_latency(db, bootstrap, args.rate, args.seconds)
        finally:
            await db.dispose()
    p50, p99 = percentile(delays, 0.50), percentile(delays, 0.99)
    print(
        f"events: {args.events}; steady rate {args.rate}/s for {args.seconds:g} s; "
        f"python {sys.version.split()[0]}, {os.cpu_count()} cores"
    )
    print(f"{'figure':<52}{'value':>14}{'vs baseline':>14}")
    print(f"{'raw aiokafka produce->consume (baseline)':<52}{kafka_rate:>10,.0f} /s{1:>13.2f}x")
    print(f"{'raw PostgreSQL insert, 1000-row statements':<52}{pg_rate:>10,.0f} /s{'':>14}")
    print(
        f"{'pipeline outbox->broker->consumer, end to end':<52}{throughput:>10,.0f} /s"
        f"{throughput / kafka_rate:>13.2f}x"
    )
    print(f"{'commit-to-effect p50 at ' + str(args.rate) + '/s':<52}{p50:>11.1f} ms")
    print(f"{'commit-to-effect p99 at ' + str(args.rate) + '/s':<52}{p99:>11.1f} ms")
    print(f"{'commit-to-effect max at ' + str(args.rate) + '/s':<52}{max(delays):>11.1f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=20)
    asyncio.run(main(parser.parse_args()))
