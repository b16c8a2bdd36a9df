"""Registration: completed registrations per second in an opening-day burst, on loopback.

    uv run python bench/registration.py [--runners 2100] [--connections 256]

Starts the registration service as production runs it (`python -m copa_runtime.serve`, one
process with its hold sweeper and outbox relay) on the servers named by DATABASE_URL /
KAFKA_BOOTSTRAP_SERVERS or embedded ones, with its clock on a day of the 2024 window, then in
the same run:

* baseline: the same HTTP stack (the same process, middleware, uvicorn) answering `/livez`,
  three requests per flow (what a registration costs in requests), on as many connections;
* the burst: ``--runners`` people apply at once for the places (60 % ask for 100 m, 40 % for
  1000 m: 250 + 250 places with the 2024 defaults), and every one who gets a hold starts the
  payment and the provider's signed callback arrives; completed registrations per second
  (until the last one completed), p50/p99 latency of a whole flow (apply, payment start and
  callback; or the refusal), and the count of oversold slots, counted in the database
  afterwards (must be 0).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from benchkit import create_database, servers
from sqlalchemy import text

from copa.embedded.service_process import ServiceProcess
from copa_registration.loadgen import registration_flow, run_burst, trivial_flow
from copa_registration.providers import Sandbox
from copa_runtime.db import Database

SECRET = "bench-sandbox-secret"


def runner(n: int) -> dict[str, Any]:
    return {
        "distance": "100m" if n % 5 < 3 else "1000m",
        "first_name": f"Runner{n}",
        "last_name": f"Bench{n:05d}",
        "gender": "M" if n % 2 else "F",
        "birth_date": f"{1960 + n % 45}-0{1 + n % 9}-1{n % 9}",
        "email": f"runner{n}@example.kz",
        "phone": "+7 701 555 01 02",
        "language": ("ru", "kk", "en")[n % 3],
    }


async def oversold(url: str) -> tuple[int, dict[str, int]]:
    """Slots beyond a limit, counted from the applications themselves (not the counters)."""
    db = Database(url, service="bench", pool_size=1)
    try:
        async with db.unit_of_work() as session:
            rows = dict(
                (
                    await session.execute(
                        text(
                            "SELECT distance, count(*) FROM applications "
                            "WHERE status IN ('held', 'paid') GROUP BY distance"
                        )
                    )
                ).all()
            )
            limits = dict(
                (await session.execute(text("SELECT scope, slot_limit FROM capacity"))).all()
            )
            paid = await session.scalar(
                text("SELECT count(*) FROM applications WHERE status = 'paid'")
            )
    finally:
        await db.dispose()
    over = max(0, sum(rows.values()) - limits["total"]) + sum(
        max(0, n - limits[d]) for d, n in rows.items()
    )
    return over, {"paid": int(paid or 0), **rows}


async def main(args: argparse.Namespace) -> None:
    with ExitStack() as stack:
        server_url, bootstrap = servers(stack)
        url = await create_database(server_url, "registration")
        log = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "registration.log"
        os.environ["COPA_REGISTRATION_CLOCK_START"] = "2024-01-15T04:00:00+00:00"  # opening day
        os.environ["COPA_PAYMENT_PROVIDER"] = "sandbox"
        os.environ["COPA_SANDBOX_PAY_SECRET"] = SECRET
        service = ServiceProcess("registration", url, bootstrap, log, "all")
        service.start()
        stack.callback(service.stop)
        base = service.base_url
        warm = await run_burst(base, range(200), trivial_flow(), connections=32)
        baseline = await run_burst(
            base, range(args.runners), trivial_flow(), connections=args.connections
        )
        burst = await run_burst(
            base,
            [runner(n) for n in range(args.runners)],
            registration_flow(Sandbox(SECRET)),
            connections=args.connections,
        )
        over, counted = await oversold(url)
    del warm
    completed = burst.outcomes.count("applied")
    flows_per_s = len(burst.outcomes) / burst.elapsed_s
    baseline_per_s = len(baseline.outcomes) / baseline.elapsed_s
    print(
        f"{args.runners} runners for 700 places, {args.connections} connections on loopback; "
        f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.1f}"
    )
    print(f"{'figure':<62}{'value':>12}{'vs baseline':>13}")
    print(
        f"{'baseline: 3 x GET /livez per flow, same stack':<62}{baseline_per_s:>10,.0f}/s"
        f"{1:>12.2f}x"
    )
    print(
        f"{'burst: flows (apply, pay start, callback / refusal)':<62}{flows_per_s:>10,.0f}/s"
        f"{flows_per_s / baseline_per_s:>12.2f}x"
    )
    until_sold_out = burst.last_finish("applied")
    print(
        f"{'completed registrations (paid, with BIB) per second':<62}"
        f"{completed / until_sold_out:>10,.0f}/s"
    )
    print(
        f"{'flow latency p50 / p99 (burst)':<62}"
        f"{burst.percentile(0.5) * 1000:>7,.0f} / {burst.percentile(0.99) * 1000:,.0f} ms"
    )
    print(
        f"{'baseline latency p50 / p99':<62}"
        f"{baseline.percentile(0.5) * 1000:>7,.0f} / {baseline.percentile(0.99) * 1000:,.0f} ms"
    )
    print(f"{'completed registrations / refused':<62}{completed:>8} / {args.runners - completed}")
    print(f"{'oversold slots (counted in the database)':<62}{over:>12}")
    print(f"counted: {counted}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runners", type=int, default=2100)
    parser.add_argument("--connections", type=int, default=256)
    asyncio.run(main(parser.parse_args()))
