"""What the fault tests share: services in their own processes on the broker and PostgreSQL a
test chooses, a timing device that re-sends what was not acknowledged, and a reader of
everything a topic holds.

Test modules cannot import a conftest by name (``--import-mode=importlib``): they get this
module from the ``chaos`` fixture.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
from aiokafka import AIOKafkaConsumer

from copa.embedded.service_process import ServiceProcess
from copa_contracts import topics
from copa_contracts.envelope import Envelope, Event
from copa_runtime.kafka import ensure_topics, make_producer, topics_with_dead_letters

RACE_DAY = datetime(2024, 3, 17, 4, 0, tzinfo=UTC)  # 09:00 in Almaty (UTC+5 since 2024-03-01)


@pytest.fixture
def chaos():
    """These helpers, for the test modules."""
    return sys.modules[__name__]


@pytest.fixture
def start_service(postgres_server, tmp_path: Path) -> Iterator[Callable[..., ServiceProcess]]:
    """``start_service(name, bootstrap, server=None, role="all")``: a service in its own process
    on a fresh database of ``server`` (the session's PostgreSQL by default), talking to the
    broker at ``bootstrap``. All are stopped and their databases dropped at the end."""
    started: list[tuple[ServiceProcess, Any, str]] = []

    def start(
        name: str, bootstrap: str, *, server: Any = None, role: str = "all"
    ) -> ServiceProcess:
        server = server or postgres_server
        database = f"chaos_{name.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
        url = server.create_database_sync(database)
        log = tmp_path / f"{name}-{len(started)}.log"
        service = ServiceProcess(name, url, bootstrap, log, role)
        started.append((service, server, database))
        service.start(timeout_s=240)
        return service

    def start_many(names: Sequence[str], bootstrap: str) -> dict[str, ServiceProcess]:
        """Several services at once (each on its own thread: start-up waits for readiness)."""
        with ThreadPoolExecutor(len(names)) as pool:
            futures = {name: pool.submit(start, name, bootstrap) for name in names}
        return {name: future.result() for name, future in futures.items()}

    start.many = start_many  # type: ignore[attr-defined]
    try:
        yield start
    finally:
        for service, _, _ in started:
            service.stop()
        for _, server, database in started:
            with contextlib.suppress(Exception):  # a dedicated server may be gone already
                server.drop_database_sync(database)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def dsn(service: ServiceProcess) -> str:
    return service.database_url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def query(service: ServiceProcess, sql: str, *args: Any) -> list[asyncpg.Record]:
    """Rows from the service's own database (what it stored, as it stored it)."""
    connection = await asyncpg.connect(dsn(service))
    try:
        return list(await connection.fetch(sql, *args))
    finally:
        await connection.close()


async def scalar(service: ServiceProcess, sql: str, *args: Any) -> Any:
    rows = await query(service, sql, *args)
    return rows[0][0] if rows else None


async def eventually(
    check: Callable[[], Awaitable[Any]], what: str, timeout_s: float = 120.0
) -> Any:
    """``check()``'s first truthy value; fails naming ``what`` when it never comes."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.25)


async def read_topic(bootstrap: str, topic: str, *, quiet_s: float = 1.5) -> list[Envelope]:
    """Every record on ``topic`` from its start, duplicates included, until the topic has been
    quiet for ``quiet_s``."""
    await ensure_topics(bootstrap, topics_with_dead_letters([topics.topic_by_name(topic)]))
    reader = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await reader.start()
    found: list[Envelope] = []
    try:
        quiet_until = time.monotonic() + quiet_s
        while time.monotonic() < quiet_until:
            batch = await reader.getmany(timeout_ms=250)
            for records in batch.values():
                found.extend(Envelope.from_bytes(record.value or b"") for record in records)
            if batch:
                quiet_until = time.monotonic() + quiet_s
    finally:
        await reader.stop()
    return found


def wrap(event: Event, key: str) -> tuple[str, Envelope]:
    """``event`` as its producer would publish it: (topic name, envelope)."""
    return topics.topic_of(event).name, Envelope.wrap(event, producer="test", key=key)


async def produce(bootstrap: str, items: Iterable[tuple[str, Envelope]]) -> None:
    """Put envelopes on the broker as the other services' relays do (keyed, acks=all)."""
    await ensure_topics(bootstrap, topics_with_dead_letters(topics.ALL_TOPICS))
    producer = make_producer(bootstrap, client_id="chaos-test")
    await producer.start()
    try:
        sent = [
            await producer.send(name, envelope.to_bytes(), key=envelope.key.encode())
            for name, envelope in items
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


def distinct(envelopes: Sequence[Envelope]) -> dict[uuid.UUID, Envelope]:
    """The envelopes once per event id (what an idempotent consumer applies)."""
    return {e.event_id: e for e in envelopes}


def read_batch(first_seq: int, count: int, *, chips: int = 40) -> dict[str, Any]:
    """A device's JSON batch: reads numbered from ``first_seq``, 37 ms apart."""
    return {
        "reads": [
            {
                "chip": f"CHIP{n % chips:04d}",
                "at": (RACE_DAY + timedelta(milliseconds=37 * n)).isoformat(),
                "location": "finish",
                "antenna": n % 4 + 1,
                "seq": n,
            }
            for n in range(first_seq, first_seq + count)
        ]
    }


@dataclass
class Device:
    """A timing device as the hardware behaves: it posts its batches in order and keeps each
    one until the service answered 200; after any failure (connection refused or cut, a 503)
    it sends the same batch again. ``answers[i]`` is the 200 answer to batch ``i``."""

    base_url: str
    token: str
    batches: list[bytes]
    retry_s: float = 0.1
    answers: dict[int, dict[str, Any]] = field(default_factory=dict)
    failures: Counter[str] = field(default_factory=Counter)
    refusals: list[httpx.Response] = field(default_factory=list)
    on_answer: Callable[[], None] | None = None  # called after each acknowledged batch

    async def run(self, timeout_s: float = 180.0) -> None:
        deadline = time.monotonic() + timeout_s
        headers = {**auth(self.token), "Content-Type": "application/json"}
        async with httpx.AsyncClient(base_url=self.base_url, timeout=15) as client:
            for index, body in enumerate(self.batches):
                while True:
                    assert time.monotonic() < deadline, f"batch {index} never acknowledged"
                    try:
                        answer = await client.post("/reads", content=body, headers=headers)
                    except httpx.HTTPError as error:
                        self.failures[type(error).__name__] += 1
                        await asyncio.sleep(self.retry_s)
                        continue
                    if answer.status_code == 200:
                        self.answers[index] = answer.json()
                        if self.on_answer is not None:
                            self.on_answer()
                        break
                    self.failures[str(answer.status_code)] += 1
                    self.refusals.append(answer)
                    await asyncio.sleep(self.retry_s)

    @property
    def acknowledged(self) -> int:
        return len(self.answers)


def device_batches(batches: int, size: int, *, first_seq: int = 1) -> list[bytes]:
    return [msgspec.json.encode(read_batch(first_seq + n * size, size)) for n in range(batches)]
