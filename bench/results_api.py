"""Public results API: cached pages per second, next to a trivial endpoint of the same service.

Ranking runs as on race day (its HTTP tier in its own process) on a database seeded with a
700-runner standings table and a race page. The same load (concurrent keep-alive clients,
bounded run) is pointed in turn at ``/livez`` (the baseline: same process, same middleware,
no work), at the standings page revalidated with ``If-None-Match`` (a partner site polling:
``304 Not Modified``), and at the full page (200 with the body from the page cache).

    uv run python bench/results_api.py [--seconds 8] [--clients 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

import asyncpg
import httpx
from benchkit import create_database, percentile, servers

from copa.embedded.service_process import ServiceProcess
from copa_registration.loadgen import Connection  # a lean keep-alive HTTP/1.1 client

RUNNERS = 700
STANDINGS = "/public/standings/100m/M/all"


async def seed(dsn: str) -> None:
    """A roster, a drawn group with one published race, and a 700-runner standings table."""
    connection = await asyncpg.connect(dsn)
    try:
        await connection.executemany(
            "INSERT INTO roster (participant_id, bib, full_name, gender, distance, category, "
            "chip, club) VALUES ($1, $2, $3, 'M', '100m', '18-34', $4, $5)",
            [
                (uuid.uuid4(), str(bib), f"Runner {bib} Almaty", f"CHIP{bib}", "Almaty RC")
                for bib in range(1, RUNNERS + 1)
            ],
        )
        entries = [
            {
                "place": bib,
                "bib": bib,
                "category": "18-34",
                "status": "OK",
                "gun_time_us": 10_000_000 + bib * 10_000,
                "official_time_us": 10_000_000 + bib * 10_000,
                "net_time_us": None,
                "source": "chip",
                "dq_rule": None,
                "race_id": None,
            }
            for bib in range(1, RUNNERS + 1)
        ]
        await connection.execute(
            "INSERT INTO standings (standings_id, edition, distance, gender, category, status, "
            "revision, entries) VALUES ('2024/100m/M/all', '2024', '100m', 'M', NULL, "
            "'official', 1, $1::jsonb)",
            json.dumps(entries),
        )
        await connection.execute(
            "INSERT INTO public_changes (kind, key, revision) VALUES ('standings', "
            "'2024/100m/M/all', 1)"
        )
    finally:
        await connection.close()


async def load(
    port: int, path: str, seconds: float, clients: int, headers: dict[str, str] | None = None
) -> tuple[float, list[float], int]:
    """(requests per second, latencies in ms, the status code seen) for one bounded run.

    Each client is a lean keep-alive HTTP/1.1 connection (a general-purpose client costs
    more CPU than the endpoint it measures on these two cores)."""
    latencies: list[float] = []
    statuses: set[int] = set()
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        connection = Connection("127.0.0.1", port)
        try:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                status, _ = await connection.request("GET", path, headers=headers)
                latencies.append((time.perf_counter() - started) * 1000)
                statuses.add(status)
        finally:
            await connection.close()

    began = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.perf_counter() - began
    if len(statuses) != 1:
        raise RuntimeError(f"{path}: mixed answers {statuses}")
    return len(latencies) / elapsed, latencies, statuses.pop()


async def main(args: argparse.Namespace) -> None:
    with ExitStack() as stack:
        server_url, bootstrap = servers(stack)
        url = await create_database(server_url, "results_api")
        dsn = url.replace("postgresql+asyncpg://", "postgresql://")
        log = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "ranking.log"
        service = ServiceProcess("ranking", url, bootstrap, log, "api")
        service.start()
        stack.callback(service.stop)
        await seed(dsn)
        async with httpx.AsyncClient(timeout=30) as http:
            first = await http.get(service.base_url + STANDINGS)
        first.raise_for_status()
        etag = first.headers["etag"]
        # Warm both paths, then measure each in turn under the same load.
        await load(service.port, "/livez", 1, args.clients)
        await load(service.port, STANDINGS, 1, args.clients)
        trivial = await load(service.port, "/livez", args.seconds, args.clients)
        revalidated = await load(
            service.port, STANDINGS, args.seconds, args.clients, {"If-None-Match": etag}
        )
        full = await load(service.port, STANDINGS, args.seconds, args.clients)
    print(
        f"{args.clients} keep-alive clients, {args.seconds:g} s per run; standings of "
        f"{RUNNERS} runners ({len(first.content):,} bytes); python {sys.version.split()[0]}, "
        f"{os.cpu_count()} cores"
    )
    print(f"{'endpoint':<52}{'status':>7}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'ratio':>8}")
    for name, (rate, latencies, status) in (
        ("GET /livez (baseline: trivial endpoint)", trivial),
        ("GET standings, If-None-Match (revalidation)", revalidated),
        ("GET standings, full page from the cache", full),
    ):
        print(
            f"{name:<52}{status:>7}{rate:>10,.0f}{percentile(latencies, 0.5):>9.1f}"
            f"{percentile(latencies, 0.99):>9.1f}{rate / trivial[0]:>7.2f}x"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--clients", type=int, default=16)
    asyncio.run(main(parser.parse_args()))
