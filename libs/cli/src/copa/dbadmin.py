"""PostgreSQL server URLs and per-service databases, for ``copa up`` and the test fixtures.

Every service owns its database (ARCHITECTURE.md), so one server holds several: a "server
URL" here names the server (its database part is ignored), and :func:`database_url` derives
each database's URL from it. URLs are handed out in the SQLAlchemy asyncpg form
``postgresql+asyncpg://...`` that the runtime uses; ``postgres://`` and ``postgresql://``
(what hosting providers and docker-compose give) are accepted on the way in.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit

from copa_runtime.settings import asyncpg_url

__all__ = [
    "asyncpg_url",
    "create_database",
    "database_url",
    "drop_database",
    "libpq_url",
    "redact",
]


def database_url(server_url: str, database: str) -> str:
    """The asyncpg URL of ``database`` on the server that ``server_url`` names."""
    parts = urlsplit(asyncpg_url(server_url))
    return urlunsplit(parts._replace(path="/" + quote(database, safe="")))


def libpq_url(url: str) -> str:
    """The same URL as ``postgresql://`` (what asyncpg.connect and psql take)."""
    return "postgresql://" + asyncpg_url(url).partition("://")[2]


def redact(url: str) -> str:
    """The URL with its password replaced by ``***``, for logs and tables."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    userinfo, _, hostinfo = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{hostinfo}"))


def _quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def create_database(server_url: str, name: str) -> bool:
    """Create database ``name`` unless it exists; True when it was created now.

    Connects to the ``postgres`` maintenance database. A concurrent creator winning the
    race is not an error: the database exists, which is all the caller wants.
    """
    import asyncpg

    connection = await asyncpg.connect(libpq_url(database_url(server_url, "postgres")))
    try:
        exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if exists:
            return False
        try:
            await connection.execute(f"CREATE DATABASE {_quote_identifier(name)}")
        except asyncpg.DuplicateDatabaseError:
            return False
        return True
    finally:
        await connection.close()


async def drop_database(server_url: str, name: str) -> None:
    """Drop database ``name`` if it exists, disconnecting whoever is still connected."""
    import asyncpg

    connection = await asyncpg.connect(libpq_url(database_url(server_url, "postgres")))
    try:
        await connection.execute(f"DROP DATABASE IF EXISTS {_quote_identifier(name)} WITH (FORCE)")
    finally:
        await connection.close()
