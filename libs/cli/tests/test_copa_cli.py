"""The ``copa`` command as a developer uses it: ``status`` tells a dead component from a live
one, ``token`` signs with the install's secret, ``up`` brings everything up and takes it all
down again on Ctrl-C."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
import pytest

from copa.cli import main
from copa.embedded import free_port
from copa.embedded.ports import port_accepts
from copa.state import ComponentRecord, CopaHome, PlatformRecord, find_repo_root
from copa.syncrun import run_coroutine_sync
from copa.up import SERVICES, database_name

TESTS_DIR = Path(__file__).parent
REPO = find_repo_root(TESTS_DIR)


@pytest.fixture
def copa_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "copa-home"
    monkeypatch.setenv("COPA_HOME", str(home))
    monkeypatch.delenv("COPA_JWT_SECRET", raising=False)
    return home


@pytest.fixture
def ready_endpoint() -> Iterator[str]:
    """An HTTP server whose /readyz says 200, standing in for a healthy service."""

    class Ready(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/readyz" else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Ready)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def listening_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def _write_platform(home: Path, components: list[ComponentRecord]) -> None:
    PlatformRecord(components=components).write(CopaHome(home, None).platform_file)


def test_status_reports_a_component_whose_port_is_closed_as_unhealthy(
    copa_home: Path,
    ready_endpoint: str,
    listening_port: int,
    capsys: pytest.CaptureFixture[str],
) -> None:
    closed_port = free_port()
    _write_platform(
        copa_home,
        [
            ComponentRecord(
                "postgres", "postgres", f"postgresql://postgres@127.0.0.1:{listening_port}"
            ),
            ComponentRecord("kafka", "kafka", f"127.0.0.1:{closed_port}"),
            ComponentRecord("ranking", "service", ready_endpoint, f"{ready_endpoint}/readyz"),
        ],
    )

    code = main(["status", "--json"])

    report = json.loads(capsys.readouterr().out)
    assert code == 1
    assert {item["name"]: item["healthy"] for item in report} == {
        "postgres": True,
        "kafka": False,
        "ranking": True,
    }
    assert all(set(item) == {"name", "kind", "url", "healthy", "detail"} for item in report)
    kafka = next(item for item in report if item["name"] == "kafka")
    assert str(closed_port) in kafka["detail"]


def test_status_exits_0_when_everything_answers(
    copa_home: Path, ready_endpoint: str, listening_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    _write_platform(
        copa_home,
        [
            ComponentRecord("smtp", "smtp", f"smtp://127.0.0.1:{listening_port}", pid=os.getpid()),
            ComponentRecord("teams", "service", ready_endpoint, f"{ready_endpoint}/readyz"),
        ],
    )
    assert main(["status"]) == 0
    assert "DOWN" not in capsys.readouterr().out


def test_status_says_the_platform_is_not_up(
    copa_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", "--json"]) == 1
    assert "the platform is not up" in capsys.readouterr().err


def test_status_calls_a_dead_process_unhealthy_even_if_its_port_answers(
    copa_home: Path, listening_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    dead_pid = _a_pid_that_is_not_running()
    _write_platform(
        copa_home,
        [ComponentRecord("kafka", "kafka", f"127.0.0.1:{listening_port}", pid=dead_pid)],
    )
    assert main(["status", "--json"]) == 1
    [item] = json.loads(capsys.readouterr().out)
    assert item["detail"] == f"process {dead_pid} is not running"


def _a_pid_that_is_not_running() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_token_is_signed_with_the_install_secret(
    copa_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    auth = pytest.importorskip("copa_runtime.auth")

    assert main(["token", "--role", "timing_device", "--device", "finish-line-1"]) == 0
    token = capsys.readouterr().out.strip()

    secret = (copa_home / "jwt-secret").read_text().strip()
    assert oct((copa_home / "jwt-secret").stat().st_mode & 0o777) == "0o600"
    principal = auth.decode_token(token, secret)
    assert principal.device == "finish-line-1"
    assert {str(role) for role in principal.roles} == {"timing_device"}


def test_token_uses_copa_jwt_secret_when_set(
    copa_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    auth = pytest.importorskip("copa_runtime.auth")
    monkeypatch.setenv("COPA_JWT_SECRET", "a-secret-from-the-environment-of-this-shell")

    assert main(["token", "--role", "judge", "--role", "chief_judge", "--subject", "ainur"]) == 0

    principal = auth.decode_token(
        capsys.readouterr().out.strip(), "a-secret-from-the-environment-of-this-shell"
    )
    assert principal.subject == "ainur"
    assert not (copa_home / "jwt-secret").exists()


def test_token_refuses_an_unknown_role(copa_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("copa_runtime.auth")
    assert main(["token", "--role", "referee"]) == 2
    assert "unknown role" in capsys.readouterr().err


def test_the_repository_is_found_from_any_folder_inside_it() -> None:
    assert REPO is not None
    assert find_repo_root(TESTS_DIR / "some" / "deeper" / "folder") == REPO
    home = CopaHome.locate(TESTS_DIR)
    if not os.environ.get("COPA_HOME"):
        assert home.root == REPO / ".copa"


# -- copa up ---------------------------------------------------------------------------


class RunningUp:
    """A ``copa up`` subprocess with its own state directory and ports."""

    def __init__(
        self,
        home: Path,
        serve_module: str,
        extra_path: Path | None,
        ports: dict[str, int] | None = None,
    ) -> None:
        self.home = home
        self.ports = ports or {
            "postgres": free_port(),
            "kafka": free_port(),
            "smtp": free_port(),
            **{name: free_port() for name in SERVICES},
        }
        self.env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "SMTP_URL", "COPA_JWT_SECRET")
        }
        self.env["COPA_HOME"] = str(home)
        if extra_path is not None:
            self.env["PYTHONPATH"] = os.pathsep.join(
                [str(extra_path), *filter(None, [self.env.get("PYTHONPATH")])]
            )
        self.output = home.parent / f"copa-up-{time.monotonic_ns()}.out"
        home.mkdir(parents=True, exist_ok=True)
        self._output_file = self.output.open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "copa",
                "up",
                "--postgres-port",
                str(self.ports["postgres"]),
                "--kafka-port",
                str(self.ports["kafka"]),
                "--smtp-port",
                str(self.ports["smtp"]),
                "--service-ports",
                ",".join(str(self.ports[name]) for name in SERVICES),
                "--serve-module",
                serve_module,
                "--ready-timeout",
                "180",
            ],
            cwd=REPO,
            env=self.env,
            stdout=self._output_file,
            stderr=subprocess.STDOUT,
        )

    def status(self) -> tuple[int, list[dict[str, Any]]]:
        result = subprocess.run(
            [sys.executable, "-m", "copa", "status", "--json"],
            env=self.env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
        return result.returncode, json.loads(result.stdout) if result.stdout.strip() else []

    def wait_all_healthy(self, timeout_s: float) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout_s
        report: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"copa up exited with {self.process.returncode}:\n{self.said()}")
            code, report = self.status()
            if code == 0:
                return report
            time.sleep(0.5)
        pytest.fail(f"not all healthy after {timeout_s} s: {report}\n{self.said()}")

    def interrupt(self) -> int:
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=90)
        finally:
            self._output_file.close()

    def said(self) -> str:
        if not self._output_file.closed:
            self._output_file.flush()
        return self.output.read_text(errors="replace")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self._output_file.close()


def _recorded_pids(up: RunningUp) -> list[int]:
    record = PlatformRecord.read(CopaHome(up.home, None).platform_file)
    assert record is not None
    return [component.pid for component in record.components if component.pid]


def _assert_everything_stopped(up: RunningUp, pids: list[int]) -> None:
    """Nothing listens any more and every process the run recorded is gone.

    "Nothing accepts connections" rather than "the port can be bound": on a busy machine
    some unrelated client may be using the same number as its ephemeral port.
    """
    assert not CopaHome(up.home, None).platform_file.exists()
    for name, port in up.ports.items():
        assert not port_accepts(port), f"{name} still listens on {port}:\n{up.said()}"
    for pid in pids:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert not (up.home / "pgdata" / "postmaster.pid").exists(), "PostgreSQL did not stop"


async def _database_names(port: int) -> set[str]:
    connection = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres")
    try:
        return {row["datname"] for row in await connection.fetch("SELECT datname FROM pg_database")}
    finally:
        await connection.close()


@pytest.mark.timeout(300)
def test_copa_up_supervises_the_platform_and_stops_it_on_ctrl_c(tmp_path: Path) -> None:
    """The supervisor on its own, with a stand-in service module (fake_copa_serve.py)."""
    up = RunningUp(tmp_path / "home", "fake_copa_serve", TESTS_DIR)
    try:
        report = up.wait_all_healthy(120)
        assert {item["name"] for item in report} == {"postgres", "kafka", "smtp", *SERVICES}

        ranking_env = httpx.get(f"http://127.0.0.1:{up.ports['ranking']}/env").json()
        assert ranking_env["DATABASE_URL"] == (
            f"postgresql+asyncpg://postgres@127.0.0.1:{up.ports['postgres']}/copa_ranking"
        )
        assert ranking_env["KAFKA_BOOTSTRAP_SERVERS"] == f"127.0.0.1:{up.ports['kafka']}"
        assert ranking_env["SMTP_URL"] == f"smtp://127.0.0.1:{up.ports['smtp']}"
        assert ranking_env["COPA_ENV"] == "embedded"
        assert ranking_env["COPA_JWT_SECRET"] == (up.home / "jwt-secret").read_text().strip()

        databases = run_coroutine_sync(_database_names(up.ports["postgres"]))
        assert {database_name(name) for name in SERVICES} <= databases

        # A service that dies is reported loudly, and the rest keeps running.
        httpx.get(f"http://127.0.0.1:{up.ports['teams']}/die")
        deadline = time.monotonic() + 20
        while "EXITED" not in up.said() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "service teams" in up.said()
        assert "EXITED" in up.said()
        code, report = up.status()
        assert code == 1
        assert [item["name"] for item in report if not item["healthy"]] == ["teams"]

        pids = _recorded_pids(up)
        assert up.interrupt() == 0
        _assert_everything_stopped(up, pids)
    finally:
        up.kill()


@pytest.mark.timeout(300)
def test_copa_up_cleans_up_after_a_run_that_was_killed(tmp_path: Path) -> None:
    first = RunningUp(tmp_path / "home", "fake_copa_serve", TESTS_DIR)
    try:
        first.wait_all_healthy(120)
        first.process.kill()  # kill -9: no chance to stop anything
        first.process.wait(10)
        second = RunningUp(tmp_path / "home", "fake_copa_serve", TESTS_DIR, ports=first.ports)
        try:
            second.wait_all_healthy(120)
            assert "left by an earlier run" in second.said()
            pids = _recorded_pids(second)
            assert second.interrupt() == 0
            _assert_everything_stopped(second, pids)
        finally:
            second.kill()
    finally:
        first.kill()


def test_copa_up_refuses_a_taken_port_and_names_it(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        home = tmp_path / "home"
        env = {**os.environ, "COPA_HOME": str(home)}
        for name in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "SMTP_URL"):
            env.pop(name, None)
        result = subprocess.run(
            [
                sys.executable, "-m", "copa", "up",
                "--postgres-port", str(free_port()),
                "--kafka-port", str(taken),
                "--smtp-port", str(free_port()),
                "--service-ports", str(free_port()),
            ],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )  # fmt: skip
    assert result.returncode == 1
    assert f"port {taken} (Kafka broker)" in result.stderr
    assert not (home / "pgdata" / "postmaster.pid").exists()


@pytest.mark.skipif(
    importlib.util.find_spec("copa_runtime.serve") is None,
    reason="copa_runtime.serve not available",
)
@pytest.mark.timeout(420)
def test_copa_up_brings_the_real_platform_up_and_down(tmp_path: Path) -> None:
    """End to end: the five real services, migrated and ready, then a clean Ctrl-C."""
    up = RunningUp(tmp_path / "home", "copa_runtime.serve", None)
    try:
        report = up.wait_all_healthy(240)
        assert all(item["healthy"] for item in report)
        for name in SERVICES:
            docs = httpx.get(f"http://127.0.0.1:{up.ports[name]}/openapi.json", timeout=10)
            assert docs.status_code == 200, name
        pids = _recorded_pids(up)
        assert up.interrupt() == 0
        _assert_everything_stopped(up, pids)
    finally:
        up.kill()


def test_service_ports_are_five_consecutive_from_the_first_or_listed() -> None:
    from copa.cli import _service_ports

    assert _service_ports("9001") == dict(zip(SERVICES, range(9001, 9006), strict=True))
    assert list(_service_ports("1,2,3,4,5").values()) == [1, 2, 3, 4, 5]
