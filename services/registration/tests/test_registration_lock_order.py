"""Capacity counters are locked in one order, so concurrent commits never deadlock (RULES §3).

The counters are updated by deferred triggers at commit (``capacity.py``). A paid change of
distance moves a slot from the old distance's counter to the new one's (reg 7.6): two runners
changing in opposite directions at the same moment would lock the two rows in opposite orders,
and PostgreSQL would abort one of the commits (a deadlock, SQLSTATE 40P01), refusing a change
the runner paid for. Here, on the database of a running service, pairs of paid entries move in
opposite directions in commits sent at the same instant, many times over: none may fail, and
the counters must still equal the paid entries.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import httpx

PAIRS = 40
ROUNDS = 6


def test_opposite_moves_between_distances_commit_at_once_without_a_deadlock(
    small_registration: Any, h: Any
) -> None:
    service = small_registration(capacity=700, slots={"100m": 300, "1000m": 300})
    with httpx.Client(base_url=service.base_url, timeout=30) as http:
        ids: dict[str, list[str]] = {"100m": [], "1000m": []}
        for n in range(2 * PAIRS):
            distance = "100m" if n % 2 else "1000m"
            created = http.post("/applications", json=h.runner(n, distance=distance))
            assert created.status_code == 201, created.text
            h.pay(http, created.json())
            ids[distance].append(created.json()["registration_id"])
    dsn = service.database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    failures, counters, paid = asyncio.run(_swap_rounds(dsn, ids["100m"], ids["1000m"]))
    assert failures == []
    assert counters == {"100m": paid.get("100m", 0), "1000m": paid.get("1000m", 0)}
    assert sum(paid.values()) == 2 * PAIRS


async def _swap_rounds(
    dsn: str, sprinters: list[str], middle: list[str]
) -> tuple[list[str], dict[str, int], dict[str, int]]:
    connections = [await asyncpg.connect(dsn) for _ in range(2 * PAIRS)]
    failures: list[str] = []
    try:
        on = {"100m": sprinters, "1000m": middle}
        for number in range(ROUNDS):
            there, back = ("100m", "1000m") if number % 2 == 0 else ("1000m", "100m")
            moves = [(entry, back) for entry in on[there]] + [(entry, there) for entry in on[back]]
            # Every transaction stages its move, then all commit at once: the triggers run
            # at commit, where the counter rows are locked.
            staged = []
            for connection, (entry, to) in zip(connections, moves, strict=True):
                transaction = connection.transaction()
                await transaction.start()
                await connection.execute(
                    "UPDATE applications SET distance = $1 WHERE id = $2", to, uuid.UUID(entry)
                )
                staged.append(transaction)
            results = await asyncio.gather(*(t.commit() for t in staged), return_exceptions=True)
            failures += [repr(r) for r in results if isinstance(r, BaseException)]
            on = {back: on[there], there: on[back]}
        admin = connections[0]
        counters = {
            r["scope"]: r["taken"]
            for r in await admin.fetch(
                "SELECT scope, taken FROM capacity WHERE scope IN ('100m', '1000m')"
            )
        }
        paid = {
            r["distance"]: r["count"]
            for r in await admin.fetch(
                "SELECT distance, count(*) FROM applications WHERE status IN ('held', 'paid') "
                "GROUP BY distance"
            )
        }
    finally:
        for connection in connections:
            await connection.close()
    return failures, counters, paid
