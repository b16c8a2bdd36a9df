"""``copa up``: the whole platform on one machine, in the foreground, until Ctrl-C.

Start order is PostgreSQL, SMTP sink, broker, then the five services (each needs the
servers before it can become ready); shutdown is the exact reverse, so that no service
logs a storm of connection errors while it drains. Servers given in the environment
(``DATABASE_URL``, ``KAFKA_BOOTSTRAP_SERVERS``, ``SMTP_URL``) are used as they are and
neither started nor stopped.

Ports are fixed (defaults below, flags to change them) and a taken port is an error naming
it: the developer's browser tabs, tokens and tools point at these numbers, so silently
moving to another port would break them far from the cause.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import IO, TextIO

from copa.dbadmin import asyncpg_url, create_database, database_url, drop_database, redact
from copa.embedded.kafka import BrokerError, EmbeddedKafka
from copa.embedded.ports import LOOPBACK, PortInUseError, port_is_free
from copa.embedded.postgres import EmbeddedPostgres, PostgresError
from copa.embedded.processes import (
    log_tail,
    process_alive,
    rotate_log,
    terminate_groups,
    wait_gone,
)
from copa.embedded.smtp import SmtpSink
from copa.state import ComponentRecord, CopaHome, PlatformRecord
from copa.syncrun import run_coroutine_sync

SERVICES: tuple[str, ...] = ("registration", "timing-ingest", "ranking", "teams", "notifications")
DEFAULT_SERVICE_PORTS: dict[str, int] = {
    "registration": 8101,
    "timing-ingest": 8102,
    "ranking": 8103,
    "teams": 8104,
    "notifications": 8105,
}
DEFAULT_POSTGRES_PORT = 54329
DEFAULT_KAFKA_PORT = 19092
DEFAULT_SMTP_PORT = 1025
DEFAULT_SERVE_MODULE = "copa_runtime.serve"


def database_name(service: str, *, rehearsal: bool = False) -> str:
    """``timing-ingest`` -> ``copa_timing_ingest``: one database per service (a rehearsal's
    are apart: ``copa_rehearsal_timing_ingest``)."""
    return ("copa_rehearsal_" if rehearsal else "copa_") + service.replace("-", "_")


class StartupFailed(RuntimeError):
    """The platform could not be brought up; the message says which part and why."""


class ShutdownRequested(BaseException):
    """Ctrl-C or SIGTERM. A BaseException, like KeyboardInterrupt, so that no
    ``except Exception`` on the way swallows it."""


@dataclass(frozen=True)
class UpOptions:
    """What ``copa up`` was asked for (the CLI flags)."""

    postgres_port: int = DEFAULT_POSTGRES_PORT
    kafka_port: int = DEFAULT_KAFKA_PORT
    smtp_port: int = DEFAULT_SMTP_PORT
    service_ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_SERVICE_PORTS))
    ready_timeout_s: float = 60.0
    serve_module: str = DEFAULT_SERVE_MODULE
    rehearsal: bool = False
    """Run the rehearsal edition on databases of its own, emptied at every start: a rehearsal
    is played once from registration to results (``copa simulate``)."""


@dataclass
class _Service:
    """One service subprocess."""

    name: str
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    log_file: IO[bytes] | None = None
    reported_exit: bool = False

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def health_url(self) -> str:
        return f"{self.url}/readyz"

    @property
    def docs_url(self) -> str:
        return f"{self.url}/docs"


def _env_value(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def _process_started_at(pid: int) -> float | None:
    import psutil

    try:
        return float(psutil.Process(pid).create_time())
    except psutil.Error:
        return None


def _same_process(pid: int | None, started_at: float | None) -> bool:
    """Whether ``pid`` still is the live process we recorded (pids get reused)."""
    if pid is None or not process_alive(pid):
        return False
    now = _process_started_at(pid)
    if now is None:
        return False
    return started_at is None or abs(now - started_at) < 1.0


class Platform:
    """Brings the platform up, watches it, and takes it down. One instance per ``copa up``."""

    def __init__(self, home: CopaHome, options: UpOptions, out: TextIO | None = None) -> None:
        self.home = home
        self.options = options
        self.out = out or sys.stdout
        self.postgres: EmbeddedPostgres | None = None
        self.smtp: SmtpSink | None = None
        self.kafka: EmbeddedKafka | None = None
        self.services: list[_Service] = []
        self.database_server_url = ""
        self.kafka_bootstrap = ""
        self.smtp_url = ""
        self._stopping = False
        self._stop_requested_at = 0.0

    # -- the whole run -----------------------------------------------------------------

    def run(self) -> int:
        """Up, watch, down. Returns the process exit code (0 after a requested stop)."""
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        code = 0
        try:
            self._start()
            self._watch()
        except ShutdownRequested:
            code = 0
        except (StartupFailed, PortInUseError, PostgresError, BrokerError) as error:
            self._say(f"\ncopa up failed: {error}", err=True)
            code = 1
        finally:
            self._stopping = True
            self._stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return code

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self._stopping:
            # `uv run` forwards the signal the terminal already sent us: one Ctrl-C often
            # arrives twice, so only a later one deserves an answer.
            if time.monotonic() - self._stop_requested_at > 1.0:
                self._say("still stopping, please wait…", err=True)
            return
        self._stopping = True
        self._stop_requested_at = time.monotonic()
        self._say(f"\n{signal.Signals(signum).name} received: stopping the platform…")
        raise ShutdownRequested

    # -- start -------------------------------------------------------------------------

    def _start(self) -> None:
        self.home.ensure()
        self._clear_previous_run()
        secret = self.home.jwt_secret()
        self._plan()
        self._check_ports()

        if self.postgres is not None:
            self._step("PostgreSQL", self.postgres.start)
            self.database_server_url = asyncpg_url(self.postgres.url)
        self._create_databases()
        if self.smtp is not None:
            self._step("SMTP sink", self.smtp.start)
            self.smtp_url = self.smtp.url
        if self.kafka is not None:
            self._step("Kafka broker (Tansu, in memory)", self.kafka.start)
            self.kafka_bootstrap = self.kafka.bootstrap

        for service in self.services:
            self._spawn(service, secret)
        # Recorded before waiting, so that `copa status` can watch the start-up and a
        # later run can clean up after this one even if it is killed right now.
        self._record()
        self._wait_ready()
        self._print_table()

    def _plan(self) -> None:
        """Decide what to start ourselves and what the environment already provides."""
        options, home = self.options, self.home
        external_db = _env_value("DATABASE_URL")
        if external_db:
            self.database_server_url = asyncpg_url(external_db)
        else:
            rotate_log(home.log("postgres"))
            self.postgres = EmbeddedPostgres(
                home.pgdata, options.postgres_port, log_path=home.log("postgres"), durable=True
            )
        self.kafka_bootstrap = _env_value("KAFKA_BOOTSTRAP_SERVERS") or ""
        if not self.kafka_bootstrap:
            rotate_log(home.log("kafka"))
            self.kafka = EmbeddedKafka(
                home.kafka_dir, options.kafka_port, log_path=home.log("kafka")
            )
        self.smtp_url = _env_value("SMTP_URL") or ""
        if not self.smtp_url:
            rotate_log(home.log("smtp"))
            self.smtp = SmtpSink(options.smtp_port, mail_dir=home.mail, log_path=home.log("smtp"))
        for name in SERVICES:
            rotate_log(home.log(name))
            self.services.append(_Service(name, options.service_ports[name], home.log(name)))

    def _check_ports(self) -> None:
        """Fail before starting anything when a port we need is taken, naming all of them."""
        if self.postgres is not None:
            # A server an earlier, killed run left on our data directory holds our port.
            self.postgres.stop_leftover()
        wanted: list[tuple[int, str]] = []
        if self.postgres is not None:
            wanted.append((self.postgres.port, "PostgreSQL"))
        if self.smtp is not None:
            wanted.append((self.smtp.port, "SMTP sink"))
        if self.kafka is not None:
            wanted.append((self.kafka.port, "Kafka broker"))
        wanted += [(service.port, f"service {service.name}") for service in self.services]
        taken = [(port, what) for port, what in wanted if not port_is_free(port)]
        if taken:
            lines = "\n".join(
                f"  port {port} ({what}) on {LOOPBACK} is already in use" for port, what in taken
            )
            raise StartupFailed(
                f"\n{lines}\nStop whatever holds it (`ss -ltnp` shows who) or choose other ports "
                "(copa up --help lists the flags)."
            )

    def _clear_previous_run(self) -> None:
        """Refuse to run twice; clean up after an earlier run that was killed (kill -9, crash)."""
        path = self.home.platform_file
        record = PlatformRecord.read(path)
        if record is None:
            return
        if _same_process(record.supervisor_pid, record.supervisor_started_at) and (
            record.supervisor_pid != os.getpid()
        ):
            raise StartupFailed(
                f"the platform is already up (copa up, pid {record.supervisor_pid}, "
                f"since {record.started_at}); stop it first (Ctrl-C in its terminal, "
                f"or `kill {record.supervisor_pid}`)"
            )
        leftovers = [
            component
            for component in record.components
            if component.kind in ("service", "kafka")
            and not component.external
            and _same_process(component.pid, component.process_started_at)
        ]
        for component in leftovers:
            self._say(f"stopping {component.name} (pid {component.pid}), left by an earlier run")
        _terminate_leftovers([component.pid for component in leftovers if component.pid])
        path.unlink(missing_ok=True)

    def _step(self, what: str, action: Callable[[], None]) -> None:
        started = time.monotonic()
        self._say(f"starting {what}…")
        action()
        self._say(f"  {what} up ({time.monotonic() - started:.1f} s)")

    def _create_databases(self) -> None:
        async def create_all() -> list[str]:
            created = []
            for name in SERVICES:
                database = database_name(name, rehearsal=self.options.rehearsal)
                if self.options.rehearsal:
                    await drop_database(self.database_server_url, database)
                if await create_database(self.database_server_url, database):
                    created.append(database)
            return created

        try:
            created = run_coroutine_sync(create_all())
        except Exception as error:
            raise StartupFailed(
                f"could not create the service databases on {redact(self.database_server_url)}: "
                f"{type(error).__name__}: {error}"
            ) from error
        if created:
            self._say(f"  created databases: {', '.join(created)}")

    def _spawn(self, service: _Service, secret: str) -> None:
        env = dict(os.environ)
        env.update(
            {
                "DATABASE_URL": database_url(
                    self.database_server_url,
                    database_name(service.name, rehearsal=self.options.rehearsal),
                ),
                "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap,
                "SMTP_URL": self.smtp_url,
                "COPA_ENV": "embedded",
                "COPA_JWT_SECRET": secret,
                "COPA_SERVICE": service.name,
                "PYTHONUNBUFFERED": "1",
            }
        )
        service.log_path.parent.mkdir(parents=True, exist_ok=True)
        service.log_file = service.log_path.open("ab")
        command = [
            sys.executable,
            "-m",
            self.options.serve_module,
            service.name,
            "--host",
            LOOPBACK,
            "--port",
            str(service.port),
        ]
        service.process = subprocess.Popen(
            command,
            cwd=self.home.repo or Path.cwd(),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=service.log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches copa only; we stop services in order
        )
        self._say(f"starting service {service.name} on {service.url} (pid {service.process.pid})…")

    def _wait_ready(self) -> None:
        """Wait until every service answers ``/readyz`` with 200, or fail with its log."""
        import httpx

        started = time.monotonic()
        deadline = started + self.options.ready_timeout_s
        pending = {service.name: service for service in self.services}
        last_answer = {name: "no answer yet" for name in pending}
        with httpx.Client(timeout=2.0) as client:
            while pending:
                for name, service in list(pending.items()):
                    assert service.process is not None
                    code = service.process.poll()
                    if code is not None:
                        raise StartupFailed(
                            f"service {name} exited with code {code} while starting.\n"
                            f"--- last lines of {service.log_path} ---\n"
                            f"{log_tail(service.log_path)}"
                        )
                    try:
                        response = client.get(service.health_url)
                    except httpx.HTTPError as error:
                        last_answer[name] = f"{type(error).__name__}"
                        continue
                    if response.status_code == 200:
                        del pending[name]
                        self._say(f"  {name} ready ({time.monotonic() - started:.1f} s)")
                    else:
                        last_answer[name] = f"{response.status_code} {response.text[:300]}"
                if pending and time.monotonic() > deadline:
                    details = "\n".join(
                        f"service {name}: /readyz said {last_answer[name]}\n"
                        f"--- last lines of {service.log_path} ---\n{log_tail(service.log_path)}"
                        for name, service in pending.items()
                    )
                    raise StartupFailed(
                        f"not ready after {self.options.ready_timeout_s:.0f} s: "
                        f"{', '.join(pending)}\n{details}"
                    )
                if pending:
                    time.sleep(0.25)

    def _record(self) -> None:
        """Write ``run/platform.json`` for ``copa status`` and for cleanup after a crash."""
        me = os.getpid()
        components: list[ComponentRecord] = []
        if self.postgres is not None:
            pid = self.postgres.pid
            components.append(
                ComponentRecord(
                    "postgres",
                    "postgres",
                    self.postgres.url,
                    pid=pid,
                    log=str(self.postgres.log_path),
                    process_started_at=_process_started_at(pid) if pid else None,
                )
            )
        else:
            components.append(
                ComponentRecord(
                    "postgres", "postgres", redact(self.database_server_url), external=True
                )
            )
        if self.smtp is not None:
            components.append(
                ComponentRecord(
                    "smtp",
                    "smtp",
                    self.smtp.url,
                    pid=me,
                    log=str(self.smtp.log_path),
                    process_started_at=_process_started_at(me),
                )
            )
        else:
            components.append(ComponentRecord("smtp", "smtp", redact(self.smtp_url), external=True))
        if self.kafka is not None:
            pid = self.kafka.pid
            components.append(
                ComponentRecord(
                    "kafka",
                    "kafka",
                    self.kafka.bootstrap,
                    pid=pid,
                    log=str(self.kafka.log_path),
                    process_started_at=_process_started_at(pid) if pid else None,
                )
            )
        else:
            components.append(
                ComponentRecord("kafka", "kafka", self.kafka_bootstrap, external=True)
            )
        for service in self.services:
            if service.process is None:
                continue
            components.append(
                ComponentRecord(
                    service.name,
                    "service",
                    service.url,
                    health_url=service.health_url,
                    pid=service.process.pid,
                    log=str(service.log_path),
                    docs_url=service.docs_url,
                    process_started_at=_process_started_at(service.process.pid),
                )
            )
        PlatformRecord(
            supervisor_pid=me,
            supervisor_started_at=_process_started_at(me),
            started_at=datetime.now(UTC).isoformat(timespec="seconds"),
            components=components,
        ).write(self.home.platform_file)

    def _print_table(self) -> None:
        record = PlatformRecord.read(self.home.platform_file)
        assert record is not None
        rows = [("component", "url", "docs", "log")]
        for component in record.components:
            log = _shorten(component.log) if component.log else "(external)"
            if component.kind == "smtp" and component.log:
                log += f"  (mail: {_shorten(str(self.home.mail))}/)"
            rows.append((component.name, component.url, component.docs_url or "", log))
        widths = [max(len(row[column]) for row in rows) for column in range(3)]
        self._say("\nCopa Run is up. Ctrl-C stops everything.\n")
        for row in rows:
            cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
            self._say("  " + "  ".join([*cells, row[3]]).rstrip())
        self._say(
            f"\nState: {_shorten(str(self.home.root))}   Health: copa status   "
            "Token: copa token --role organizer\n"
        )

    # -- watch -------------------------------------------------------------------------

    def _watch(self) -> None:
        """Until a signal: report loudly any component that dies, keep the rest running."""
        kafka_reported = postgres_reported = False
        while True:
            time.sleep(1.0)
            for service in self.services:
                assert service.process is not None
                code = service.process.poll()
                if code is not None and not service.reported_exit:
                    service.reported_exit = True
                    self._alarm(
                        f"service {service.name} (pid {service.process.pid}) EXITED, code {code}",
                        service.log_path,
                    )
            if self.kafka is not None and not kafka_reported and self.kafka.exit_code() is not None:
                kafka_reported = True
                self._alarm(
                    f"the Kafka broker EXITED with code {self.kafka.exit_code()}",
                    self.kafka.log_path,
                )
            if self.postgres is not None and not postgres_reported and self.postgres.pid is None:
                postgres_reported = True
                self._alarm("PostgreSQL is no longer running", self.postgres.log_path)

    def _alarm(self, what: str, log_path: Path) -> None:
        bar = "!" * 78
        self._say(
            f"\n{bar}\n!!! {datetime.now().strftime('%H:%M:%S')} {what}.\n"
            f"!!! The rest of the platform keeps running; restart copa up to get it back.\n"
            f"!!! --- last lines of {log_path} ---\n{log_tail(log_path, 25)}\n{bar}\n",
            err=True,
        )

    # -- stop --------------------------------------------------------------------------

    def _stop(self) -> None:
        """Reverse order: services, broker, SMTP, PostgreSQL. Each step runs even if one fails."""
        started = [service for service in self.services if service.process is not None]
        if started:
            self._say("stopping services…")
            self._attempt(
                "services",
                lambda: terminate_groups(
                    [service.process for service in reversed(started) if service.process], 15.0
                ),
            )
            for service in started:
                if service.log_file is not None:
                    service.log_file.close()
        if self.kafka is not None and self.kafka.pid is not None:
            self._say("stopping the Kafka broker…")
            self._attempt("Kafka broker", self.kafka.stop)
        if self.smtp is not None and self.smtp.running:
            self._say("stopping the SMTP sink…")
            self._attempt("SMTP sink", self.smtp.stop)
        if self.postgres is not None and self.postgres.pid is not None:
            self._say("stopping PostgreSQL…")
            self._attempt("PostgreSQL", self.postgres.stop)
        record = PlatformRecord.read(self.home.platform_file)
        if record is not None and record.supervisor_pid == os.getpid():
            self.home.platform_file.unlink(missing_ok=True)
        self._say("stopped.")

    def _attempt(self, what: str, action: Callable[[], None]) -> None:
        try:
            action()
        except Exception as error:
            self._say(f"  could not stop {what} cleanly: {error}", err=True)

    def _say(self, text: str, *, err: bool = False) -> None:
        stream = sys.stderr if err else self.out
        print(text, file=stream, flush=True)


def _terminate_leftovers(pids: list[int], timeout_s: float = 10.0) -> None:
    """SIGTERM the process groups an earlier run started, SIGKILL whatever outlives the timeout.

    They are no longer our children (their parent was killed), so we cannot ``wait()`` for
    them: we poll, and count a zombie as gone, since reaping it is up to whoever adopted it
    and in containers that may be nobody.
    """
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    remaining = [pid for pid in pids if not wait_gone(pid, max(0.0, deadline - time.monotonic()))]
    for pid in remaining:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)


def _shorten(path: str) -> str:
    """A path relative to the current directory when it is below it (shorter tables)."""
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return path
