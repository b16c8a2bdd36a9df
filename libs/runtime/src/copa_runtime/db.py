"""The database: one engine per process, one unit of work per request or message batch."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


class Database:
    """Owns the engine; hands out units of work.

    A unit of work is a session inside one transaction that commits when the block ends
    normally and rolls back when it raises: the only place the code commits (STYLE.md,
    after polar).
    """

    def __init__(self, url: str, *, service: str, pool_size: int = 10) -> None:
        self.engine: AsyncEngine = create_async_engine(
            url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
        )
        # The service's name rides on every session so that the outbox can stamp the
        # envelopes it writes with their producer.
        self._sessions = async_sessionmaker(
            self.engine, expire_on_commit=False, info={"copa.producer": service}
        )

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[AsyncSession]:
        async with self._sessions() as session, session.begin():
            yield session

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
