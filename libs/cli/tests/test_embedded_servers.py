"""The embedded servers are real servers: data survives a PostgreSQL restart, messages
round-trip through the broker (and vanish with a broker restart), mail arrives in the sink."""

from __future__ import annotations

import asyncio
import os
import shutil
import smtplib
import socket
import tempfile
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from copa.dbadmin import asyncpg_url, database_url, libpq_url, redact
from copa.embedded import EmbeddedKafka, EmbeddedPostgres, PortInUseError, SmtpSink, free_port
from copa.embedded.ports import port_accepts
from copa.testing import PostgresServer, RestartablePostgres


@pytest.fixture
def pg_dir() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="copa-test-embedded-pg-"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


async def _query(url: str, sql: str) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(libpq_url(url))
    try:
        return await connection.fetch(sql)
    finally:
        await connection.close()


async def test_embedded_postgres_answers_on_tcp_and_keeps_data_across_restart(
    pg_dir: Path,
) -> None:
    server = EmbeddedPostgres(pg_dir / "pgdata", log_path=pg_dir / "pg.log")
    server.start()
    try:
        url = server.url_for("postgres")
        assert url == f"postgresql+asyncpg://postgres@127.0.0.1:{server.port}/postgres"
        await _query(url, "CREATE TABLE passing (bib int PRIMARY KEY, elapsed_us bigint)")
        await _query(url, "INSERT INTO passing VALUES (101, 312450000)")

        server.stop()
        assert not server.running
        server.start()

        rows = await _query(url, "SELECT bib, elapsed_us FROM passing")
        assert [tuple(row) for row in rows] == [(101, 312450000)]
        settings = await _query(url, "SELECT current_setting('fsync'), current_setting('TimeZone')")
        assert tuple(settings[0]) == ("on", "UTC")  # durable unless asked otherwise
    finally:
        server.stop()
    assert server.pid is None


def test_embedded_postgres_runs_as_an_unprivileged_user_when_we_are_root(pg_dir: Path) -> None:
    server = EmbeddedPostgres(pg_dir / "pgdata", durable=False)
    server.start()
    try:
        owner = (pg_dir / "pgdata").stat().st_uid
        if os.geteuid() == 0:
            assert owner != 0
        else:
            assert owner == os.geteuid()
    finally:
        server.stop()


@pytest.mark.skipif(os.geteuid() != 0, reason="the server runs as ourselves: nothing to lose")
def test_a_server_stops_even_when_a_parent_directory_was_closed_after_the_start(
    pg_dir: Path,
) -> None:
    # As root the server runs as an unprivileged account that must walk through pg_dir; a
    # new pytest session resets its root temp directory to 0700 while servers of another
    # session still run there.
    server = EmbeddedPostgres(pg_dir / "pgdata", durable=False)
    server.start()
    pg_dir.chmod(0o700)
    try:
        server.stop()
    finally:
        pg_dir.chmod(0o711)
        if server.running:
            server.stop()
    assert server.pid is None
    assert not port_accepts(server.port)


async def test_a_server_left_running_on_the_data_directory_is_replaced_cleanly(
    pg_dir: Path,
) -> None:
    port = free_port()
    first = EmbeddedPostgres(pg_dir / "pgdata", port, durable=False)
    first.start()
    leftover_pid = first.pid
    # A new object, as a new `copa up` after the previous one was killed with -9.
    second = EmbeddedPostgres(pg_dir / "pgdata", port, durable=False)
    second.start()
    try:
        assert second.pid is not None
        assert second.pid != leftover_pid
        rows = await _query(second.url_for("postgres"), "SELECT 1 AS one")
        assert rows[0]["one"] == 1
    finally:
        second.stop()


def test_a_server_whose_data_directory_was_deleted_is_replaced(pg_dir: Path) -> None:
    port = free_port()
    first = EmbeddedPostgres(pg_dir / "pgdata", port, durable=False)
    first.start()
    shutil.rmtree(pg_dir / "pgdata")  # `rm -rf .copa` while the platform runs
    second = EmbeddedPostgres(pg_dir / "pgdata", port, durable=False)
    second.start()
    try:
        assert second.running
    finally:
        second.stop()


async def test_session_postgres_creates_and_drops_databases(
    postgres_server: PostgresServer,
) -> None:
    url = await postgres_server.create_database("copa_cli_fixture_check")
    assert url.startswith("postgresql+asyncpg://")
    assert url.endswith("/copa_cli_fixture_check")
    assert postgres_server.admin_url.endswith("/postgres")
    rows = await _query(url, "SELECT current_database() AS name")
    assert rows[0]["name"] == "copa_cli_fixture_check"
    assert postgres_server.create_database_sync("copa_cli_fixture_check") == url  # idempotent

    postgres_server.drop_database_sync("copa_cli_fixture_check")
    names = await _query(postgres_server.admin_url, "SELECT datname FROM pg_database")
    assert "copa_cli_fixture_check" not in {row["datname"] for row in names}


async def test_restartable_postgres_comes_back_with_its_data(
    restartable_postgres: RestartablePostgres,
) -> None:
    url = await restartable_postgres.create_database("copa_restart_check")
    await _query(url, "CREATE TABLE heat (id int)")
    await _query(url, "INSERT INTO heat VALUES (7)")
    connection = await asyncpg.connect(libpq_url(url))

    restartable_postgres.restart()

    with pytest.raises((asyncpg.PostgresError, ConnectionError, OSError)):
        await connection.fetch("SELECT 1")  # the old connection died with the server
    rows = await _query(url, "SELECT id FROM heat")
    assert [row["id"] for row in rows] == [7]


async def test_broker_round_trips_a_message_and_forgets_everything_on_restart(
    broker_factory: Callable[[], EmbeddedKafka],
) -> None:
    broker = broker_factory()
    topic = "copa.cli-selftest.v1"
    await _create_topic(broker.bootstrap, topic)

    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, key=b"chip-0042", value=b"passing at 12.345 s")
    finally:
        await producer.stop()
    assert await _read_all(broker.bootstrap, topic) == [(b"chip-0042", b"passing at 12.345 s")]

    port = broker.port
    broker.stop()
    broker.start()

    assert broker.port == port
    assert topic not in await _topics(broker.bootstrap)  # memory storage: back empty


async def test_session_broker_answers(kafka_bootstrap: str) -> None:
    topic = "copa.cli-session-selftest.v1"
    await _create_topic(kafka_bootstrap, topic)
    assert topic in await _topics(kafka_bootstrap)


def test_broker_refuses_a_taken_port_by_naming_it(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        broker = EmbeddedKafka(tmp_path, port)
        with pytest.raises(PortInUseError, match=str(port)):
            broker.start()
    assert not broker.running


def test_smtp_sink_keeps_what_it_receives(smtp_sink: SmtpSink, tmp_path: Path) -> None:
    smtp_sink.clear()
    message = EmailMessage()
    message["From"] = "results@copa.run"
    message["To"] = "aigerim@example.kz"
    message["Subject"] = "Нәтиже: 1000 m, 3:12.45"
    message.set_content("Құттықтаймыз! Place 2 in heat 3.")
    with smtplib.SMTP("127.0.0.1", smtp_sink.port, timeout=10) as client:
        client.send_message(message)

    [mail] = smtp_sink.wait_for(1, timeout=10)
    assert mail.mail_from == "results@copa.run"
    assert mail.rcpt_tos == ("aigerim@example.kz",)
    assert mail.subject == "Нәтиже: 1000 m, 3:12.45"
    assert "Құттықтаймыз" in mail.text()
    assert smtp_sink.url == f"smtp://127.0.0.1:{smtp_sink.port}"

    smtp_sink.clear()
    assert smtp_sink.messages == []
    with pytest.raises(TimeoutError, match="expected 1 message"):
        smtp_sink.wait_for(1, timeout=0.2)


def test_smtp_sink_writes_eml_files_when_given_a_mail_dir(tmp_path: Path) -> None:
    sink = SmtpSink(mail_dir=tmp_path / "mail", log_path=tmp_path / "smtp.log")
    sink.start()
    try:
        with smtplib.SMTP("127.0.0.1", sink.port, timeout=10) as client:
            client.sendmail("a@copa.run", ["b@example.kz"], b"Subject: kit\r\n\r\nBIB 101\r\n")
        [mail] = sink.wait_for(1)
    finally:
        sink.stop()
    assert mail.path is not None
    assert mail.path.parent == tmp_path / "mail"
    assert b"BIB 101" in mail.path.read_bytes()
    assert "subject='kit'" in (tmp_path / "smtp.log").read_text()


def test_database_urls_are_normalised_to_asyncpg() -> None:
    for given in (
        "postgres://u:pw@db:5432/x",
        "postgresql://u:pw@db:5432/x",
        "postgresql+asyncpg://u:pw@db:5432/x",
    ):
        assert asyncpg_url(given) == "postgresql+asyncpg://u:pw@db:5432/x"
    assert database_url("postgresql://u@db/x?ssl=require", "copa_ranking") == (
        "postgresql+asyncpg://u@db/copa_ranking?ssl=require"
    )
    assert redact("postgresql://u:secret@db:5432/x") == "postgresql://u:***@db:5432/x"
    with pytest.raises(ValueError, match="not a PostgreSQL URL"):
        asyncpg_url("mysql://u@db/x")


async def _create_topic(bootstrap: str, topic: str) -> None:
    # Create topics explicitly, with their partitions, as the runtime does.
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()


async def _topics(bootstrap: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return list(await admin.list_topics())
    finally:
        await admin.close()


async def _read_all(bootstrap: str, topic: str) -> list[tuple[bytes | None, bytes | None]]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_wait_ms=50,
    )
    await consumer.start()
    try:
        for _ in range(100):
            batches = await consumer.getmany(timeout_ms=200)
            records = [record for batch in batches.values() for record in batch]
            if records:
                return [(record.key, record.value) for record in records]
            await asyncio.sleep(0)
        return []
    finally:
        await consumer.stop()
