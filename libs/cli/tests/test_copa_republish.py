"""`copa republish` without a running service: what it says when it cannot do its job (the
whole command, against the five services and a broker back empty, is proven in
tests/chaos/test_broker_outage.py)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from copa.republish import republish
from copa.state import ComponentRecord, CopaHome, PlatformRecord


def test_it_says_the_platform_is_not_up(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert republish(CopaHome(tmp_path, None)) == 1
    assert "the platform is not up" in capsys.readouterr().err


def test_an_unknown_service_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    PlatformRecord(components=[ComponentRecord("ranking", "service", "http://127.0.0.1:1")]).write(
        tmp_path / "run" / "platform.json"
    )
    assert republish(CopaHome(tmp_path, None), ["rankings"]) == 2
    assert "no such service: rankings (running: ranking)" in capsys.readouterr().err


def test_a_service_that_does_not_answer_fails_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COPA_JWT_SECRET", "x" * 32)
    PlatformRecord(components=[ComponentRecord("ranking", "service", "http://127.0.0.1:1")]).write(
        tmp_path / "run" / "platform.json"
    )
    out = io.StringIO()
    assert republish(CopaHome(tmp_path, None), timeout_s=2, out=out) == 1
    assert out.getvalue().startswith("ranking  FAILED  ConnectError")
