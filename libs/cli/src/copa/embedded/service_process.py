"""A service in its own process, as production runs it, for tests and benchmarks."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from copa.embedded.ports import free_port

JWT_SECRET_FOR_TESTS = "copa-tests-" + "0123456789abcdef" * 2


class ServiceProcess:
    """One service run as production runs it: ``python -m copa_runtime.serve`` in its own
    process, on its own fresh database, over real HTTP; tests may kill and restart it."""

    def __init__(
        self, name: str, database_url: str, bootstrap: str, log_path: Path, role: str
    ) -> None:
        self.name = name
        self.database_url = database_url
        self.bootstrap = bootstrap
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.role = role
        self.jwt_secret = JWT_SECRET_FOR_TESTS
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, *, role: str | None = None, timeout_s: float = 60.0) -> None:
        import httpx

        self.role = role or self.role
        env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "COPA_JWT_SECRET": self.jwt_secret,
            "COPA_ENV": "test",
        }
        log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "copa_runtime.serve",
                self.name,
                "--port",
                str(self.port),
                "--role",
                self.role,
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(self.base_url + "/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{self.name} not ready: {self.log_path.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown, whatever was in flight is cut."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None

    def token(self, *roles: str, subject: str = "test", device: str | None = None) -> str:
        from datetime import timedelta

        from copa_runtime.auth import issue_token

        extra = {"device": device} if device else None
        return issue_token(subject, list(roles), self.jwt_secret, timedelta(hours=1), extra)
