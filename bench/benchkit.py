"""What every benchmark here needs: the servers (named by the environment, else embedded) and
a fresh database."""

from __future__ import annotations

import os
import statistics
import tempfile
import uuid
from contextlib import ExitStack
from pathlib import Path

from copa import dbadmin
from copa_runtime.settings import asyncpg_url


def servers(stack: ExitStack) -> tuple[str, str]:
    """(server URL with a database path, bootstrap servers); stopped when ``stack`` closes."""
    database_url = os.environ.get("DATABASE_URL")
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="copa-bench-")))
    if not database_url:
        from copa.embedded.postgres import EmbeddedPostgres

        pg = EmbeddedPostgres(tmp / "pgdata", durable=True)
        pg.start()
        stack.callback(pg.stop)
        database_url = pg.url_for("postgres")
    if not bootstrap:
        from copa.embedded.kafka import EmbeddedKafka

        broker = EmbeddedKafka(tmp / "broker")
        broker.start()
        stack.callback(broker.stop)
        bootstrap = broker.bootstrap
    return asyncpg_url(database_url), bootstrap


async def create_database(server_url: str, prefix: str = "bench") -> str:
    """A fresh database on the server; its asyncpg URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    await dbadmin.create_database(server_url, name)
    return dbadmin.database_url(server_url, name)


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 1000) - 1]


def cpu_seconds_by_component() -> dict[str, float]:
    """CPU seconds (user + system) used so far by what this benchmark started, by component:
    its embedded PostgreSQL (postmaster and backends), the broker, each ``copa_runtime.serve``
    process by service and role, and the benchmark itself. Two snapshots around a phase say
    where its CPU went. Servers named by the environment are not on this machine's books."""
    import psutil

    me = psutil.Process()
    tree = [me, *me.children(recursive=True)]
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        if cmdline[:1] and cmdline[0].endswith("postgres") and "copa-bench-" in " ".join(cmdline):
            tree += [process, *process.children(recursive=True)]
    totals: dict[str, float] = {}
    for process in tree:
        try:
            times = process.cpu_times()
            cmdline = process.cmdline()
            name = process.name()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        if process.pid == me.pid:
            kind = "benchmark client"
        elif name.startswith("postgres"):
            kind = "PostgreSQL"
        elif "tansu" in name or any("tansu" in part for part in cmdline[:1]):
            kind = "broker (Tansu)"
        elif "copa_runtime.serve" in cmdline:
            service = cmdline[cmdline.index("copa_runtime.serve") + 1]
            role = cmdline[cmdline.index("--role") + 1] if "--role" in cmdline else "all"
            kind = f"{service} {role}"
        else:
            continue
        totals[kind] = totals.get(kind, 0.0) + times.user + times.system
    return totals


def cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {kind: after.get(kind, 0.0) - before.get(kind, 0.0) for kind in after}
