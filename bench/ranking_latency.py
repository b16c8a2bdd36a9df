"""Ranking: from a finish read on the bus to the runner's result on the bus (issue 5).

Ranking runs as on the embedded platform (one process, HTTP and workers) with its own broker
and database. A 3000 m race of 25 runners is drawn and started; then each runner's finish
(its eighth crossing, three raw reads, after seven laps already read) is produced on
`timing.reads.v1`, one runner at a time, and the time is taken until a race-results event
listing that runner as a finisher is on `ranking.results.v1`. The baseline, in the same run,
is the bus alone: a record produced and consumed back through the same broker.

    uv run python bench/ranking_latency.py [--runners 25]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer
from benchkit import create_database, percentile, servers

from copa.embedded.service_process import ServiceProcess
from copa_contracts import topics
from copa_contracts.common import Contact
from copa_contracts.envelope import Envelope, Event
from copa_contracts.participants import KitIssued, ParticipantPaid
from copa_contracts.timing import ChipRead, StartSignal
from copa_runtime.kafka import ensure_topics, make_producer

LAP_S = 75.0


async def main(args: argparse.Namespace) -> None:
    with ExitStack() as stack:
        server_url, bootstrap = servers(stack)
        url = await create_database(server_url, "ranking_latency")
        log = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "ranking.log"
        await ensure_topics(bootstrap, [(t.name, t.partitions) for t in topics.ALL_TOPICS])
        service = ServiceProcess("ranking", url, bootstrap, log, "all")
        service.start()
        stack.callback(service.stop)
        producer = make_producer(bootstrap, client_id="bench")
        await producer.start()
        results = AIOKafkaConsumer(
            topics.RESULTS.name, bootstrap_servers=bootstrap, auto_offset_reset="latest"
        )
        await results.start()
        try:
            baseline = await bus_round_trips(producer, bootstrap, args.runners)
            delays = await race(service, producer, results, args.runners)
        finally:
            await results.stop()
            await producer.stop()
    print(
        f"3000 m race of {args.runners} runners, one finish at a time; python "
        f"{sys.version.split()[0]}, {os.cpu_count()} cores"
    )
    print(f"{'figure':<58}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for name, values in (
        ("bus alone: produce -> consume (baseline)", baseline),
        ("finish read on the bus -> its result on the bus", delays),
    ):
        print(
            f"{name:<58}{percentile(values, 0.5):>9.1f}{percentile(values, 0.99):>9.1f}"
            f"{max(values):>9.1f}"
        )


async def send(producer, topic: topics.Topic, event: Event, key: str) -> None:  # type: ignore[no-untyped-def]
    envelope = Envelope.wrap(event, producer="bench", key=key)
    await producer.send_and_wait(topic.name, envelope.to_bytes(), key=key.encode())


async def bus_round_trips(producer, bootstrap: str, count: int) -> list[float]:  # type: ignore[no-untyped-def]
    name = f"bench.round-trip.{uuid.uuid4().hex[:6]}"
    await ensure_topics(bootstrap, [(name, 1)])
    consumer = AIOKafkaConsumer(name, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    delays = []
    try:
        for n in range(count):
            started = time.perf_counter()
            await producer.send_and_wait(name, str(n).encode(), key=b"k")
            await consumer.getone()
            delays.append((time.perf_counter() - started) * 1000)
    finally:
        await consumer.stop()
    return delays


async def race(service: ServiceProcess, producer, results, runners: int) -> list[float]:  # type: ignore[no-untyped-def]
    organizer = {"Authorization": f"Bearer {service.token('organizer')}"}
    now = dt.datetime.now(dt.UTC)
    chips = {}
    for bib in range(3001, 3001 + runners):
        participant = uuid.uuid4()
        common = {
            "participant_id": participant,
            "registration_number": f"R-{bib:06d}",
            "edition": "2024",
            "contact": Contact(
                first_name=f"Runner{bib}", last_name="Bench", email="b@example.kz", language="en"
            ),
        }
        chips[bib] = f"LAT{bib}"
        await send(
            producer,
            topics.PARTICIPANTS,
            ParticipantPaid(
                **common,
                distance="3000m",
                gender="M",
                age_category="18-34",
                bib=bib,
                amount_kzt=5000,
                payment_method="online",
                paid_at=now,
            ),
            str(participant),
        )
        await send(
            producer,
            topics.PARTICIPANTS,
            KitIssued(
                **common,
                bib=bib,
                chip=chips[bib],
                chip_pre_paired=False,
                collected_by_proxy=False,
                issued_at=now,
            ),
            str(participant),
        )
    async with httpx.AsyncClient(base_url=service.base_url, timeout=30) as http:
        while True:
            answer = await http.post("/organizer/draw", json={"seed": "bench"}, headers=organizer)
            if answer.status_code == 200 and answer.json()["races"] == 1:
                break
            if answer.status_code == 200:
                raise RuntimeError(f"unexpected draw {answer.text}")
            await asyncio.sleep(0.3)
        await http.post("/organizer/schedule/publish", headers=organizer)
        race_id = (await http.get("/public/races")).json()[0]["race_id"]
    gun = now + dt.timedelta(minutes=1)
    await send(
        producer,
        topics.STARTS,
        StartSignal(
            race_id=uuid.UUID(race_id),
            signal_id=uuid.uuid4(),
            fired_at=gun,
            device_id="start",
            source="start_system",
        ),
        race_id,
    )
    # Seven laps of everyone first: crossings, not finishes.
    for lap in range(1, 8):
        for bib, chip in chips.items():
            at = gun + dt.timedelta(seconds=lap * LAP_S + (bib - 3000) * 0.5)
            await send(producer, topics.READS, _read(chip, at), chip)
    delays = []
    for bib, chip in chips.items():
        finish = gun + dt.timedelta(seconds=8 * LAP_S - 20 + (bib - 3000) * 0.5)
        started = time.perf_counter()
        for n in range(3):
            await send(
                producer,
                topics.READS,
                _read(chip, finish + dt.timedelta(milliseconds=30 * n)),
                chip,
            )
        while True:
            record = await results.getone()
            entries = Envelope.from_bytes(record.value).payload["entries"]
            if any(e["bib"] == bib and e["status"] == "OK" for e in entries):
                break
        delays.append((time.perf_counter() - started) * 1000)
    return delays


def _read(chip: str, at: dt.datetime) -> ChipRead:
    return ChipRead(
        chip=chip,
        device_id="finish-1",
        timing_point="finish",
        antenna=1,
        read_at=at,
        device_sequence=None,
        kind="read",
        received_at=at,
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runners", type=int, default=25)
    asyncio.run(main(parser.parse_args()))
