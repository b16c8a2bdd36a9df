"""Timing ingest: reads per second from the HTTP request to the read being on the broker.

    uv run python bench/ingest.py [--devices 8] [--seconds 15] [--rate 5000]

Starts the timing-ingest service as production runs it (an API process and a worker process
that runs the outbox relay), on
the servers named by DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS or embedded ones, then:

* baseline: PostgreSQL ``COPY`` of the same rows into a table shaped like ``reads``;
* baseline: the raw aiokafka producer (``acks=all``) sending messages of a ``chip.read``
  envelope's size;
* throughput: several devices post JSON batches of 500 reads concurrently for a bounded time;
  reads/s from the first request to the moment the last read is on the broker (the outbox is
  empty), and the rate at which they were acknowledged;
* latency: at a steady rate, the time from sending a batch to its answer (which comes only
  after the reads are durably stored), p50 and p99.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import msgspec
from benchkit import cpu_delta, cpu_seconds_by_component, create_database, percentile, servers

from copa.embedded.service_process import ServiceProcess
from copa_registration.loadgen import Connection  # a lean keep-alive HTTP/1.1 client
from copa_runtime.kafka import ensure_topics, make_producer

BATCH = 500
T0 = datetime(2024, 3, 17, 4, 0, tzinfo=UTC)


def reads(device: int, start: int) -> bytes:
    return msgspec.json.encode(
        {
            "reads": [
                {
                    "chip": f"{(start + n) % 700:06d}",
                    "at": (T0 + timedelta(microseconds=1000 * (start + n))).isoformat(),
                    "location": "finish",
                    "antenna": n % 4 + 1,
                    "seq": start + n,
                    "rssi": -62,
                }
                for n in range(BATCH)
            ]
        }
    )


async def raw_copy(dsn: str, count: int) -> float:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "CREATE TABLE copy_reads (device_id text, dedupe_key text, event_id uuid, chip text, "
            "read_at timestamptz, kind text, timing_point text, antenna int, seq bigint, rssi int)"
        )
        rows = [
            (
                "dev-1",
                f"seq:{n}",
                uuid.uuid4(),
                f"{n % 700:06d}",
                T0 + timedelta(microseconds=n),
                "read",
                "finish",
                n % 4,
                n,
                -62,
            )
            for n in range(count)
        ]
        started = time.perf_counter()
        for start in range(0, count, 10_000):
            await conn.copy_records_to_table("copy_reads", records=rows[start : start + 10_000])
        return count / (time.perf_counter() - started)
    finally:
        await conn.close()


async def raw_producer(bootstrap: str, count: int) -> float:
    topic = f"bench.raw-reads.{uuid.uuid4().hex[:8]}"
    await ensure_topics(bootstrap, [(topic, 12)])
    producer = make_producer(bootstrap, client_id="bench-raw-producer")
    await producer.start()
    value = b"x" * 520  # about a chip.read envelope
    try:
        started = time.perf_counter()
        for start in range(0, count, 5000):
            futures = [
                await producer.send(topic, value, key=str(n % 700).encode())
                for n in range(start, min(count, start + 5000))
            ]
            await asyncio.gather(*futures)
        return count / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def backlog(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        # Reads are published from their own table, behind its cursor (publisher.py).
        outbox = await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        reads = await conn.fetchval(
            "SELECT count(*) FROM reads r, reads_publication p "
            "WHERE p.stream = 'bus' AND (r.txid, r.id) > (p.txid, p.read_id)"
        )
        return int(outbox) + int(reads)
    finally:
        await conn.close()


async def throughput(service: ServiceProcess, dsn: str, devices: int, seconds: float):
    # The devices' output is written before the clock starts (enough for 60,000 reads/s):
    # the load generator shares the two cores with what it measures, so it must cost little.
    per_device = int(60_000 * seconds / BATCH / devices) + 1
    bodies = [[reads(n, b * BATCH) for b in range(per_device)] for n in range(devices)]
    cpu_before = cpu_seconds_by_component()
    acked = 0
    last_ack = 0.0
    started = time.perf_counter()
    stop_at = started + seconds

    async def device(number: int, bodies: list[bytes]) -> None:
        nonlocal acked, last_ack
        token = service.token("timing_device", device=f"bench-{number}")
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        connection = Connection("127.0.0.1", service.port)
        try:
            sequence = 0
            while time.perf_counter() < stop_at:
                batch = sequence // BATCH
                body = bodies[batch] if batch < len(bodies) else reads(number, sequence)
                status, answer = await connection.request("POST", "/reads", body, headers)
                if status != 200:
                    raise RuntimeError(f"{status}: {answer[:500]!r}")
                acked += msgspec.json.decode(answer)["new"]
                last_ack = time.perf_counter()
                sequence += BATCH
        finally:
            await connection.close()

    await asyncio.gather(*(device(n, bodies[n]) for n in range(devices)))
    while await backlog(dsn):
        await asyncio.sleep(0.02)
    on_broker = time.perf_counter()
    cpu = cpu_delta(cpu_before, cpu_seconds_by_component())
    return acked, acked / (on_broker - started), acked / (last_ack - started), cpu


async def latency(
    service: ServiceProcess, rate: int, seconds: float, devices: int, run: int
) -> list[float]:
    interval = BATCH / rate
    total = int(seconds * rate / BATCH)
    delays: list[float] = []
    tokens = [service.token("timing_device", device=f"steady-{run}-{n}") for n in range(devices)]
    bodies = [reads(i % devices, 1_000_000 + (i // devices) * BATCH) for i in range(total)]
    idle: list[Connection] = []

    async def post(i: int) -> None:
        connection = idle.pop() if idle else Connection("127.0.0.1", service.port)
        headers = {
            "Authorization": f"Bearer {tokens[i % devices]}",
            "Content-Type": "application/json",
        }
        began = time.perf_counter()
        status, answer = await connection.request("POST", "/reads", bodies[i], headers)
        delays.append((time.perf_counter() - began) * 1000)
        idle.append(connection)
        if status != 200:
            raise RuntimeError(f"{status}: {answer[:500]!r}")

    pending = []
    started = time.perf_counter()
    for i in range(total):
        pause = started + i * interval - time.perf_counter()
        if pause > 0:
            await asyncio.sleep(pause)
        pending.append(asyncio.create_task(post(i)))
    await asyncio.gather(*pending)
    for connection in idle:
        await connection.close()
    return delays


async def main(args: argparse.Namespace) -> None:
    with ExitStack() as stack:
        server_url, bootstrap = servers(stack)
        url = await create_database(server_url, "ingest")
        dsn = url.replace("postgresql+asyncpg://", "postgresql://")
        log = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "timing-ingest.log"
        # As on race day: the HTTP tier and the worker tier (the outbox relay) in their own
        # processes (deploy/k8s runs them as separate Deployments).
        service = ServiceProcess("timing-ingest", url, bootstrap, log, "api")
        service.start()
        stack.callback(service.stop)
        worker = ServiceProcess(
            "timing-ingest", url, bootstrap, log.with_suffix(".worker"), "worker"
        )
        worker.start()
        stack.callback(worker.stop)
        copy_rate = await raw_copy(dsn, 200_000)
        producer_rate = await raw_producer(bootstrap, 200_000)
        # Steady latency on its own first, then the burst, then the steady rate again while
        # the database digests the burst (autovacuum of the new rows, a checkpoint).
        steady = await latency(service, args.rate, args.latency_seconds, args.devices, 1)
        count, end_to_end, acked_rate, cpu = await throughput(
            service, dsn, args.devices, args.seconds
        )
        after_burst = await latency(service, args.rate, args.latency_seconds, args.devices, 2)
    print(
        f"{args.devices} devices, JSON batches of {BATCH}, {args.seconds:g} s bounded run; "
        f"python {sys.version.split()[0]}, {os.cpu_count()} cores; {count:,} reads ingested"
    )
    print(f"{'figure':<56}{'value':>12}{'vs producer':>13}")
    print(
        f"{'raw PostgreSQL COPY of the same rows':<56}{copy_rate:>10,.0f}/s"
        f"{copy_rate / producer_rate:>12.2f}x"
    )
    print(f"{'raw aiokafka producer, acks=all (baseline)':<56}{producer_rate:>10,.0f}/s{1:>12.2f}x")
    print(
        f"{'ingest: HTTP request -> read on the broker':<56}{end_to_end:>10,.0f}/s"
        f"{end_to_end / producer_rate:>12.2f}x"
    )
    print(
        f"{'ingest: reads acknowledged (stored) per second':<56}{acked_rate:>10,.0f}/s"
        f"{acked_rate / producer_rate:>12.2f}x"
    )
    for label, delays in (("steady", steady), ("after the burst", after_burst)):
        for q in (0.5, 0.99):
            name = f"ack latency p{q * 100:.0f} at {args.rate} reads/s, {label}"
            print(f"{name:<56}{percentile(delays, q):>9.1f} ms")
        print(f"{'  (batches, slowest)':<56}{len(delays):>9}  {max(delays):.1f} ms")
    print("CPU per read ingested during the throughput run, by component:")
    for kind, seconds in sorted(cpu.items(), key=lambda item: -item[1]):
        if seconds > 0:
            print(f"  {kind:<54}{seconds / count * 1e6:>9.1f} us")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--rate", type=int, default=5000)
    parser.add_argument("--latency-seconds", type=float, default=20)
    asyncio.run(main(parser.parse_args()))
