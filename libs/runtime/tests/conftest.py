from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from copa_runtime.db import Database
from copa_runtime.migrations import upgrade_async
from copa_runtime.reference.pipeline import MIGRATIONS, SERVICE


@pytest.fixture
async def pipeline_db(postgres_server) -> AsyncIterator[Database]:
    """A fresh database per test, migrated like a service's, dropped afterwards."""
    name = f"pipeline_{uuid.uuid4().hex[:12]}"
    await postgres_server.create_database(name)
    url = postgres_server.url_for(name)
    await upgrade_async(MIGRATIONS, url)
    db = Database(url, service=SERVICE, pool_size=5)
    try:
        yield db
    finally:
        await db.dispose()
        await postgres_server.drop_database(name)
