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
