"""Alembic, one history per service, driven from code.

Each service keeps its migrations in its own ``migrations/`` folder; the runtime's tables are
created by the service's first migration through :func:`create_runtime_tables`, so every
service database carries an outbox and a tracking table.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command, context, op
from alembic.config import Config
from sqlalchemy import Connection, MetaData, pool
from sqlalchemy.ext.asyncio import create_async_engine

from copa_runtime.tables import CREATE_NOTIFY_TRIGGER, DROP_NOTIFY_TRIGGER, runtime_metadata


def create_runtime_tables() -> None:
    """Call from a service's first migration's ``upgrade()``."""
    runtime_metadata.create_all(op.get_bind())
    for statement in CREATE_NOTIFY_TRIGGER:
        op.execute(statement)


def drop_runtime_tables() -> None:
    for statement in DROP_NOTIFY_TRIGGER:
        op.execute(statement)
    runtime_metadata.drop_all(op.get_bind())


def run_env(target_metadata: MetaData | None = None) -> None:
    """The body of every service's ``migrations/env.py``."""
    config = context.config
    url = config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url must be set by the caller"

    def do_run(connection: Connection) -> None:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()

    async def run_async() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        async with engine.connect() as connection:
            await connection.run_sync(do_run)
        await engine.dispose()

    asyncio.run(run_async())


def alembic_config(migrations_dir: Path, url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(migrations_dir: Path, url: str, revision: str = "head") -> None:
    """Bring a service database to ``revision`` (blocking; runs its own event loop)."""
    command.upgrade(alembic_config(migrations_dir, url), revision)


async def upgrade_async(migrations_dir: Path, url: str, revision: str = "head") -> None:
    await asyncio.to_thread(upgrade, migrations_dir, url, revision)
