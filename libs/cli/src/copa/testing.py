"""pytest plugin: real PostgreSQL, a real Kafka-protocol broker and an SMTP sink for tests.

Registered from the root conftest (``pytest_plugins = ["copa.testing"]``). Tests run against
the same servers ``copa up`` runs, never mocks: the outbox, the idempotent consumers and the
migrations are only proven against the real thing.

Session fixtures
    ``postgres_server``  -> :class:`PostgresServer`; ``$DATABASE_URL`` when set (any of
                            ``postgres://``, ``postgresql://``, ``postgresql+asyncpg://``),
                            else an embedded server in a temp dir, fsync off.
    ``kafka_bootstrap``  -> ``str``; ``$KAFKA_BOOTSTRAP_SERVERS`` when set, else an embedded
                            Tansu broker for the session.
    ``smtp_sink``        -> :class:`copa.embedded.SmtpSink`; always embedded (tests must read
                            what arrived, so ``$SMTP_URL`` is not used); ``clear()`` it.
Function fixtures
    ``restartable_postgres`` -> :class:`RestartablePostgres`, a dedicated embedded server
                            with ``restart()``; skipped when ``$DATABASE_URL`` is set.
    ``broker_factory``   -> ``() -> EmbeddedKafka``, each a dedicated embedded broker with
                            ``bootstrap``, ``stop()``, ``start()`` (same port); all are stopped
                            when the test ends.
    ``edition_today``    -> ``str``, the code of the 2024 edition moved to today (its
                            race day and protest window open), set as ``COPA_EDITION`` for
                            the services this test starts.

Fixtures are synchronous, so they work for sync and async tests alike.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from copa.dbadmin import asyncpg_url, create_database, database_url, drop_database
from copa.embedded.kafka import EmbeddedKafka
from copa.embedded.postgres import EmbeddedPostgres
from copa.embedded.service_process import ServiceProcess
from copa.embedded.smtp import SmtpSink
from copa.syncrun import run_coroutine_sync


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


class PostgresServer:
    """A PostgreSQL server for tests: URLs of its databases, and creating/dropping them.

    ``create_database`` / ``drop_database`` are coroutines; the ``*_sync`` twins do the same
    from sync fixtures and tests (on a worker thread, so even inside a running loop).
    """

    def __init__(self, server_url: str, embedded: EmbeddedPostgres | None = None) -> None:
        self.server_url = asyncpg_url(server_url)
        self.embedded = embedded

    @property
    def admin_url(self) -> str:
        """SQLAlchemy asyncpg URL of the ``postgres`` maintenance database."""
        return self.url_for("postgres")

    def url_for(self, database: str) -> str:
        """SQLAlchemy asyncpg URL (``postgresql+asyncpg://...``) of ``database``."""
        return database_url(self.server_url, database)

    async def create_database(self, name: str) -> str:
        """Create ``name`` if missing; return its URL."""
        await create_database(self.server_url, name)
        return self.url_for(name)

    async def drop_database(self, name: str) -> None:
        """Drop ``name`` if present, even with open connections (``WITH (FORCE)``)."""
        await drop_database(self.server_url, name)

    def create_database_sync(self, name: str) -> str:
        """:meth:`create_database` for sync code (runs on a worker thread's own loop)."""
        run_coroutine_sync(create_database(self.server_url, name))
        return self.url_for(name)

    def drop_database_sync(self, name: str) -> None:
        """:meth:`drop_database` for sync code."""
        run_coroutine_sync(drop_database(self.server_url, name))

    def __repr__(self) -> str:
        kind = "embedded" if self.embedded else "external"
        return f"PostgresServer({kind}, admin_url={self.admin_url})"


class RestartablePostgres(PostgresServer):
    """A dedicated embedded server a test may stop, start and restart (same port, same data)."""

    embedded: EmbeddedPostgres

    def __init__(self, embedded: EmbeddedPostgres) -> None:
        super().__init__(embedded.url, embedded)
        self.embedded = embedded

    @property
    def port(self) -> int:
        return self.embedded.port

    def stop(self) -> None:
        self.embedded.stop()

    def start(self) -> None:
        self.embedded.start()

    def restart(self) -> None:
        self.embedded.restart()


def _embedded_postgres(prefix: str) -> tuple[EmbeddedPostgres, Path]:
    # tempfile, not tmp_path: pytest's base temp dir is private to the user running the
    # tests, while the server may run as an unprivileged account (see embedded/postgres.py).
    root = Path(tempfile.mkdtemp(prefix=prefix))
    server = EmbeddedPostgres(root / "pgdata", log_path=root / "postgres.log", durable=False)
    return server, root


def _discard(server: EmbeddedPostgres, root: Path) -> None:
    """Stop the server and delete its directory (data, socket dir and log live in it)."""
    try:
        server.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The session's PostgreSQL server: ``$DATABASE_URL``'s, or an embedded one."""
    external = _env("DATABASE_URL")
    if external:
        yield PostgresServer(external)
        return
    server, root = _embedded_postgres("copa-test-pg-")
    server.start()
    try:
        yield PostgresServer(server.url, server)
    finally:
        _discard(server, root)


@pytest.fixture
def restartable_postgres() -> Iterator[RestartablePostgres]:
    """A PostgreSQL of this test's own, for "the database restarted" tests."""
    if _env("DATABASE_URL"):
        pytest.skip(
            "restartable_postgres needs the embedded PostgreSQL: DATABASE_URL is set, and an "
            "external server cannot be restarted by the test"
        )
    server, root = _embedded_postgres("copa-test-pg-restart-")
    server.start()
    try:
        yield RestartablePostgres(server)
    finally:
        _discard(server, root)


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``bootstrap_servers`` of the session's broker: ``$KAFKA_BOOTSTRAP_SERVERS``, or Tansu."""
    external = _env("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        yield external
        return
    broker = EmbeddedKafka(tmp_path_factory.mktemp("tansu"))
    broker.start()
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture
def broker_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[], EmbeddedKafka]]:
    """Start dedicated embedded brokers (always embedded: the test will stop them)."""
    brokers: list[EmbeddedKafka] = []

    def start_broker() -> EmbeddedKafka:
        broker = EmbeddedKafka(tmp_path_factory.mktemp("tansu-dedicated"))
        brokers.append(broker)
        broker.start()
        return broker

    try:
        yield start_broker
    finally:
        for broker in brokers:
            broker.stop()


@pytest.fixture
def edition_today(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The 2024 edition moved to today, so that the protest window (reg 17.2) is open."""
    import datetime as dt

    from copa_contracts.edition import find_editions_dir

    folder = tmp_path / "editions"
    folder.mkdir()
    source = (find_editions_dir() / "2024.toml").read_text()
    today = dt.datetime.now(dt.UTC).date().isoformat()
    moved = source.replace('code = "2024"', 'code = "t2024"').replace(
        "date = 2024-03-17", f"date = {today}"
    )
    assert moved != source
    (folder / "t2024.toml").write_text(moved)
    for other in find_editions_dir().glob("*.toml"):
        shutil.copy(other, folder / other.name)
    monkeypatch.setenv("COPA_EDITIONS_DIR", str(folder))
    monkeypatch.setenv("COPA_EDITION", "t2024")
    return "t2024"


@pytest.fixture(scope="session")
def smtp_sink() -> Iterator[SmtpSink]:
    """The session's SMTP sink; point ``SMTP_URL`` at ``smtp_sink.url``."""
    sink = SmtpSink()
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()


@pytest.fixture
def service_process(
    postgres_server: PostgresServer,
    kafka_bootstrap: str,
    tmp_path: Path,
) -> Iterator[Callable[..., ServiceProcess]]:
    """Start services in their own processes: ``service_process("timing-ingest")``; each gets
    a fresh database; all are stopped (and their databases dropped) when the test ends."""
    started: list[tuple[ServiceProcess, str]] = []

    def start(name: str, *, role: str = "all") -> ServiceProcess:
        database = f"{name.replace('-', '_')}_{uuid.uuid4().hex[:10]}"
        url = postgres_server.create_database_sync(database)
        service = ServiceProcess(name, url, kafka_bootstrap, tmp_path / f"{name}.log", role)
        started.append((service, database))
        service.start()
        return service

    try:
        yield start
    finally:
        for service, database in started:
            service.stop()
            postgres_server.drop_database_sync(database)
