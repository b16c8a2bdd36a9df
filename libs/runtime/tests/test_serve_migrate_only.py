"""``copa-serve --migrate-only``: what the Kubernetes migrations Job and the compose one-shot
run. It brings a service database to head and exits without serving (and so without needing
the JWT secret or the broker); the replicas then start with ``--no-migrate``."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import asyncpg
import pytest

from copa.dbadmin import libpq_url
from copa_runtime import serve
from copa_runtime.service import service_names

SERVICE = "timing-ingest"


async def test_migrate_only_migrates_the_database_and_exits(postgres_server) -> None:
    assert SERVICE in service_names()
    name = f"migrate_only_{uuid.uuid4().hex[:12]}"
    url = await postgres_server.create_database(name)
    env = {key: value for key, value in os.environ.items() if key != "COPA_JWT_SECRET"}
    # No broker is named on purpose: a migration must not need one.
    env.update(DATABASE_URL=url, KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:1")
    try:
        finished = subprocess.run(
            [sys.executable, "-m", "copa_runtime.serve", SERVICE, "--migrate-only"],
            env=env,
            capture_output=True,
            timeout=120,
            check=False,
        )
        assert finished.returncode == 0, finished.stderr.decode()[-3000:]
        connection = await asyncpg.connect(libpq_url(url))
        try:
            head = await connection.fetchval("SELECT version_num FROM alembic_version")
            outbox = await connection.fetchval("SELECT to_regclass('public.outbox')::text")
        finally:
            await connection.close()
        assert head
        assert outbox == "outbox"
    finally:
        await postgres_server.drop_database(name)


def test_migrate_only_and_no_migrate_exclude_each_other(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        serve.main([SERVICE, "--migrate-only", "--no-migrate"])
    assert exited.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
