"""A minimal service used to prove the outbox -> broker -> idempotent consumer pipeline.

A ``Ping`` is written to the outbox together with a row in ``changes`` (the state change);
the consumer's effect is a row in ``effects``. Exactly-once means: every committed change
yields exactly one effect row, whatever fails in between.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import ClassVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from copa_contracts.envelope import Envelope, Event
from copa_contracts.topic import Topic
from copa_runtime.consumer import Subscription
from copa_runtime.db import Database
from copa_runtime.errors import PermanentError
from copa_runtime.outbox import add_events

MIGRATIONS = Path(__file__).parent / "migrations"
SERVICE = "pipeline-test"


class Ping(Event):
    event_type: ClassVar[str] = "test.ping"
    n: int
    poison: bool = False


def ping_topic(name: str | None = None, partitions: int = 3) -> Topic:
    return Topic(
        name=name or f"test.pings.{uuid.uuid4().hex[:10]}.v1",
        key="n",
        description="test pings",
        events=(Ping,),
        partitions=partitions,
    )


async def commit_pings(db: Database, topic: Topic, numbers: range) -> None:
    """One state change and its events, in one unit of work."""
    async with db.unit_of_work() as session:
        await session.execute(
            text("INSERT INTO changes (n) VALUES (:n)"), [{"n": n} for n in numbers]
        )
        await add_events(session, topic, [(Ping(n=n), str(n)) for n in numbers])


def subscription(topic: Topic, *, delay_s: float = 0.0, name: str = "effects") -> Subscription:
    """The consumer side: one effect row per ping, written for a whole run of pings at once."""

    async def on_pings(session: AsyncSession, pings: list[tuple[Ping, Envelope]]) -> None:
        for ping, _ in pings:
            if ping.poison:
                raise PermanentError(f"ping {ping.n} can never be applied")
        await session.execute(
            text(
                "INSERT INTO effects (event_id, n) "
                "SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:ns AS int[]))"
            ),
            {"ids": [e.event_id for _, e in pings], "ns": [p.n for p, _ in pings]},
        )
        if delay_s:
            await asyncio.sleep(delay_s * len(pings))

    return Subscription(name=name, topics=[topic], batch_handlers={Ping: on_pings})


async def effect_counts(db: Database) -> tuple[int, int]:
    """(effect rows, distinct pings among them)."""
    async with db.unit_of_work() as session:
        row = (await session.execute(text("SELECT count(*), count(DISTINCT n) FROM effects"))).one()
    return int(row[0]), int(row[1])
