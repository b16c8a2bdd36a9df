"""Race day end to end, small (issue 8): 64 applicants on the 100 m, heats and finals.

All five services in their own processes on a rehearsal edition (``copa up --rehearsal``
writes the same), a broker of the test's own (another test's events must not mix in), the
session's PostgreSQL and SMTP sink. The simulation applies, pays (some abandon, one pays
twice), a company's list of 31 is registered and paid by one transfer, a free slot is
granted, two relay teams enter, collects kits, submits two sprint team applications, draws,
runs every race with IPICO reads and a photo-finish file and the relay with each runner's
chip, rules and confirms, upholds a protest, then checks every published race, qualifier and
standings table, the sprint classification and the relay's standings and prizes against its
own truth: no mismatch may remain.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from pathlib import Path

import pytest

from copa.embedded.service_process import JWT_SECRET_FOR_TESTS, ServiceProcess
from copa.simulate import Options, Simulation, Target
from copa.simulate.rehearsal import REHEARSAL_CODE, write_rehearsal
from copa_contracts.edition import find_editions_dir
from copa_runtime.service import service_names


@pytest.fixture
def rehearsal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    editions = tmp_path / "editions"
    write_rehearsal(find_editions_dir(), editions, dt.date.today())
    monkeypatch.setenv("COPA_EDITIONS_DIR", str(editions))
    monkeypatch.setenv("COPA_EDITION", REHEARSAL_CODE)
    monkeypatch.setenv("COPA_REGISTRATION_CLOCK_CONTROL", "1")
    return editions


@pytest.mark.timeout(1200)  # five services and a whole competition, on two shared cores
def test_sixty_four_runners_on_the_100m_and_a_relay_end_to_end_with_no_mismatch(
    rehearsal: Path, postgres_server, broker_factory, smtp_sink, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("SMTP_URL", smtp_sink.url)
    broker = broker_factory()
    services: list[ServiceProcess] = []
    suffix = uuid.uuid4().hex[:8]
    databases = {name: f"sim_{name.replace('-', '_')}_{suffix}" for name in service_names()}
    try:
        for name, database in databases.items():
            url = postgres_server.create_database_sync(database)
            service = ServiceProcess(name, url, broker.bootstrap, tmp_path / f"{name}.log", "all")
            services.append(service)
            service.start(timeout_s=180)  # five services migrating at once on two cores
        target = Target(
            {s.name: s.base_url for s in services},
            JWT_SECRET_FOR_TESTS,
            broker.bootstrap,
            rehearsal,
        )
        options = Options(applicants=64, seed=7, distances=("100m",), speed=200.0, wait_s=90)
        report = asyncio.run(_simulate(target, options))
    finally:
        for service in services:
            service.stop()
        for database in databases.values():
            postgres_server.drop_database_sync(database)

    assert report.mismatches == [], report.render()
    assert report.counts["applicants"] == 64
    assert 0 < report.counts["participants"] < 64  # someone abandoned (seed 7)
    assert report.counts["corporate entries (one bank transfer, reg 7.2)"] == 31
    assert report.counts["free slots granted (reg 7.13)"] >= 1
    assert report.counts["relay teams (RULES §8)"] == 2
    assert report.counts["team applications (reg 4.2.4)"] == 2
    assert report.counts["dead letters on the bus"] == 0  # every message was applied
    assert report.counts["races run"] >= 10  # heats and finals in several categories
    assert report.counts.get("protests upheld") == 1
    assert report.latencies_ms  # results appeared on the public pages after the reads
    assert report.broker_ms
    # Every participant was mailed at least once (applied, paid, kit), through real SMTP.
    recipients = {rcpt for mail in smtp_sink.messages for rcpt in mail.rcpt_tos}
    assert sum(r.endswith("@sim.copa.example") for r in recipients) >= report.counts["participants"]


async def _simulate(target: Target, options: Options):  # type: ignore[no-untyped-def]
    async with target:
        return await Simulation(target, options).run()
