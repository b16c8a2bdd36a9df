"""Registration under test: the real service process over real HTTP, on a fresh PostgreSQL
database and the session's broker, with its clock started on a day of the 2024 window."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from copa.embedded.service_process import ServiceProcess
from copa_contracts.edition import find_editions_dir
from copa_contracts.envelope import Envelope

# 2024-02-01 10:00 in Almaty (UTC+6 until 2024-03-01): inside the window of reg 7.1.
IN_WINDOW = "2024-02-01T04:00:00+00:00"
SANDBOX_SECRET = "registration-tests-sandbox-secret"


def small_edition(
    directory: Path, *, capacity: int, slots: dict[str, int], free_slots: int = 20
) -> Path:
    """`editions/2024.toml` with smaller limits (every other value as the real one)."""
    text = (find_editions_dir() / "2024.toml").read_text()
    text = re.sub(r"^capacity = \d+", f"capacity = {capacity}", text, flags=re.M)
    text = re.sub(r"^free_slots = \d+", f"free_slots = {free_slots}", text, flags=re.M)
    for code, limit in slots.items():
        text = re.sub(
            rf'(code = "{code}"\n(?:.*\n)*?slot_limit = )\d+', rf"\g<1>{limit}", text, count=1
        )
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "2024.toml").write_text(text)
    return directory


def _test_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COPA_REGISTRATION_CLOCK_START", IN_WINDOW)
    monkeypatch.setenv("COPA_REGISTRATION_CLOCK_CONTROL", "1")
    monkeypatch.setenv("COPA_SANDBOX_PAY_SECRET", SANDBOX_SECRET)
    monkeypatch.setenv("COPA_PAYMENT_PROVIDER", "sandbox")
    monkeypatch.setenv("COPA_HOLD_SWEEP_INTERVAL_S", "0.2")


@pytest.fixture
def registration_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    _test_environment(monkeypatch)
    return monkeypatch


@pytest.fixture
def registration(
    registration_env: pytest.MonkeyPatch, service_process: Callable[..., ServiceProcess]
) -> ServiceProcess:
    """The registration service with the real 2024 edition."""
    return service_process("registration")


@pytest.fixture
def small_registration(
    registration_env: pytest.MonkeyPatch,
    service_process: Callable[..., ServiceProcess],
    tmp_path: Path,
) -> Callable[..., ServiceProcess]:
    """Start registration on an edition with small limits: ``small_registration(capacity=3,
    slots={"100m": 2})``."""

    def start(**limits: Any) -> ServiceProcess:
        folder = small_edition(tmp_path / f"editions-{uuid.uuid4().hex[:6]}", **limits)
        registration_env.setenv("COPA_EDITIONS_DIR", str(folder))
        return service_process("registration")

    return start


@pytest.fixture(scope="module")
def shared_registration(
    postgres_server: Any, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    """One registration process for a whole test module (tests that do not count slots share
    it; each sets the clock it needs and uses its own runners)."""
    database = f"registration_{uuid.uuid4().hex[:10]}"
    url = postgres_server.create_database_sync(database)
    log = tmp_path_factory.mktemp("registration") / "registration.log"
    with pytest.MonkeyPatch.context() as env:
        _test_environment(env)
        service = ServiceProcess("registration", url, kafka_bootstrap, log, "all")
        service.start()
    try:
        yield service
    finally:
        service.stop()
        postgres_server.drop_database_sync(database)


@pytest.fixture
def client(shared_registration: ServiceProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=shared_registration.base_url, timeout=30) as http:
        set_clock(http, IN_WINDOW)
        yield http


def runner(n: int = 0, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "distance": "100m",
        "first_name": f"Aigerim{n}",
        "last_name": f"Nurlanovna-{uuid.uuid4().hex[:8]}",  # a new person on every call
        "gender": "F",
        "birth_date": "1990-05-17",
        "email": f"runner{n}@example.kz",
        "phone": "+7 701 555 01 02",
        "language": "kk",
        "city": "Almaty",
        "club": "Almaty Runners",
    }
    body.update(overrides)
    return body


def qualifier(**overrides: Any) -> dict[str, Any]:
    result = {
        "distance_m": 3000,
        "time_us": 12 * 60_000_000 + 41_000_000,
        "result_date": "2023-09-10",
        "event_name": "Almaty Marathon 2023, 3 km",
        "evidence_url": "https://results.example.kz/2023/3000/417",
    }
    result.update(overrides)
    return result


def token_header(created: dict[str, Any]) -> dict[str, str]:
    return {"X-Personal-Token": created["personal_token"]}


def bearer(service: ServiceProcess, *roles: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {service.token(*roles, subject='organizer:test')}"}


def set_clock(http: httpx.Client, instant: str) -> None:
    answer = http.put("/testing/clock", json={"now": instant})
    assert answer.status_code == 200, answer.text


def pay(http: httpx.Client, created: dict[str, Any], **sandbox: Any) -> dict[str, Any]:
    """Start the payment and press "pay" on the sandbox checkout page."""
    started = http.post(
        f"/applications/{created['registration_id']}/payments", headers=token_header(created)
    )
    assert started.status_code == 201, started.text
    payment = started.json()
    paid = http.post(f"/sandbox-pay/{payment['payment_id']}/pay", json=sandbox)
    assert paid.status_code == 200, paid.text
    return paid.json()["callback"]


async def published(bootstrap: str, topic: str, event_type: str, key: str) -> list[Envelope]:
    """The envelopes of ``event_type`` keyed ``key`` on ``topic``, once one has arrived."""
    reader = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await reader.start()
    found: list[Envelope] = []
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not found:
            for part in (await reader.getmany(timeout_ms=300)).values():
                for record in part:
                    envelope = Envelope.from_bytes(record.value)
                    if envelope.type == event_type and envelope.key == key:
                        found.append(envelope)
    finally:
        await reader.stop()
    return found


class Helpers:
    """The helpers above, for test modules (importlib mode cannot import a conftest)."""

    runner = staticmethod(runner)
    qualifier = staticmethod(qualifier)
    token_header = staticmethod(token_header)
    bearer = staticmethod(bearer)
    set_clock = staticmethod(set_clock)
    pay = staticmethod(pay)
    published = staticmethod(published)
    sandbox_secret = SANDBOX_SECRET


@pytest.fixture
def h() -> type[Helpers]:
    return Helpers
