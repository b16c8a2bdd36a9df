"""No oversell under any concurrency (reg 7.1, 7.6, RULES §3): 2,100 runners apply and pay at
once (on 256 connections) over real HTTP against the running service and real PostgreSQL, for
700 places; then the database is counted."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from sqlalchemy import text

from copa_registration.loadgen import registration_flow, run_burst
from copa_registration.providers import Sandbox
from copa_runtime.db import Database

SANDBOX = Sandbox("registration-tests-sandbox-secret")  # conftest's COPA_SANDBOX_PAY_SECRET
RUNNERS = int(os.environ.get("REGISTRATION_BURST_RUNNERS", "2100"))
CONNECTIONS = 256  # all 2,100 flows are launched at once over 256 keep-alive connections


async def _count(database_url: str) -> dict[str, Any]:
    db = Database(database_url, service="registration-test", pool_size=1)
    try:
        async with db.unit_of_work() as session:
            paid = dict(
                (
                    await session.execute(
                        text(
                            "SELECT distance, count(*) FROM applications WHERE status = 'paid' "
                            "GROUP BY distance"
                        )
                    )
                ).all()
            )
            bibs = (
                await session.execute(
                    text(
                        "SELECT count(bib), count(DISTINCT bib) FROM applications "
                        "WHERE status = 'paid'"
                    )
                )
            ).one()
            counters = {
                row.scope: (row.slot_limit, row.taken)
                for row in await session.execute(text("SELECT * FROM capacity"))
            }
            applied = await session.scalar(
                text("SELECT count(*) FROM provider_transactions WHERE outcome = 'applied'")
            )
            live = await session.scalar(
                text("SELECT count(*) FROM applications WHERE status IN ('held', 'paid')")
            )
    finally:
        await db.dispose()
    return {
        "paid": paid,
        "bibs": tuple(bibs),
        "counters": counters,
        "applied": applied,
        "live": live,
    }


def test_2100_concurrent_applications_and_payments_never_oversell_700(small_registration, h):
    # 400 + 400 slots on two distances: the 700 in all is the binding limit (reg 7.1), and a
    # distance fills first under this demand (60 % ask for 100 m: reg 7.6).
    service = small_registration(capacity=700, slots={"100m": 400, "1000m": 400})
    bodies = [h.runner(n, distance="100m" if n % 5 < 3 else "1000m") for n in range(RUNNERS)]
    burst = asyncio.run(
        run_burst(service.base_url, bodies, registration_flow(SANDBOX), connections=CONNECTIONS)
    )
    results = burst.outcomes
    counted = asyncio.run(_count(service.database_url))

    paid_total = sum(counted["paid"].values())
    assert paid_total == 700  # every held slot was paid; none more (reg 7.1)
    assert counted["paid"]["100m"] == 400  # the distance filled, not beyond (reg 7.6)
    assert counted["paid"]["1000m"] == 300
    assert counted["bibs"] == (700, 700)  # every participant has a BIB, none shared
    assert counted["applied"] == 700 == results.count("applied")
    assert counted["live"] == 700
    assert counted["counters"]["total"] == (700, 700)
    assert counted["counters"]["100m"] == (400, 400)
    assert results.count("capacity_reached") + results.count("distance_full") == RUNNERS - 700
    assert results.count("distance_full") > 0
