"""The sender's arithmetic without a server (pacing, backoff, claim size, error classes), and
how it speaks to SMTP servers with and without TLS."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiosmtplib
import pytest

from copa.embedded.ports import free_port
from copa_notifications import sender as sender_module
from copa_notifications.config import NotificationSettings, SmtpTarget
from copa_notifications.deliveries import Addressee, delivery_id, message_id
from copa_notifications.sender import Pacer, PlaintextLoginRefused, Sender, _classify


def settings(**values: object) -> NotificationSettings:
    return NotificationSettings(**values)  # type: ignore[arg-type]


async def test_pacer_spaces_messages_at_the_configured_rate(monkeypatch):
    slept: list[float] = []
    now = [100.0]

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    monkeypatch.setattr(sender_module.time, "monotonic", lambda: now[0])
    monkeypatch.setattr(sender_module.asyncio, "sleep", fake_sleep)
    pacer = Pacer(rate_per_s=10)
    for _ in range(5):
        await pacer.wait()
    assert slept == pytest.approx([0.1, 0.1, 0.1, 0.1])  # 5 messages take 0.4 s at 10/s


def test_backoff_doubles_up_to_the_cap():
    config = settings(COPA_NOTIFICATIONS_BACKOFF_BASE_S=5, COPA_NOTIFICATIONS_BACKOFF_MAX_S=60)
    sender = Sender(None, "smtp://127.0.0.1:2525", config)  # type: ignore[arg-type]
    assert [sender.backoff_s(n) for n in range(1, 7)] == [5, 10, 20, 40, 60, 60]


def test_a_claim_never_outlives_its_lease():
    config = settings(
        COPA_NOTIFICATIONS_SEND_RATE=4,
        COPA_NOTIFICATIONS_CLAIM_LEASE_S=10,
        COPA_NOTIFICATIONS_BATCH_SIZE=50,
    )
    assert Sender(None, "smtp://h:25", config).claim_size == 20  # type: ignore[arg-type]
    slow = settings(COPA_NOTIFICATIONS_SEND_RATE=0.1, COPA_NOTIFICATIONS_CLAIM_LEASE_S=5)
    assert Sender(None, "smtp://h:25", slow).claim_size == 1  # type: ignore[arg-type]


def test_permanent_and_transient_smtp_errors():
    assert _classify(aiosmtplib.SMTPResponseException(550, "no such user"))
    assert not _classify(aiosmtplib.SMTPResponseException(451, "try later"))
    assert not _classify(aiosmtplib.SMTPConnectError("refused"))
    assert not _classify(aiosmtplib.SMTPServerDisconnected("gone"))
    assert not _classify(TimeoutError())


def test_message_id_is_stable_per_event_recipient_and_template():
    to = Addressee("a@example.kz", "ru", "A", "B", participant_id=None)
    first = delivery_id(__import__("uuid").UUID(int=1), to, "participant-paid")
    assert first == delivery_id(__import__("uuid").UUID(int=1), to, "participant-paid")
    assert first != delivery_id(__import__("uuid").UUID(int=1), to, "kit-issued")
    assert message_id(first, "Copa Run <noreply@copa.run>") == f"<{first}@copa.run>"


def test_smtp_url_forms():
    plain = SmtpTarget("smtp://user:p%40ss@mail.example.kz:2525")
    assert (plain.hostname, plain.port, plain.use_tls) == ("mail.example.kz", 2525, False)
    assert (plain.username, plain.password) == ("user", "p@ss")
    assert "p@ss" not in repr(plain)
    assert SmtpTarget("smtps://relay.example.kz").port == 465
    assert SmtpTarget("smtp://relay.example.kz").port == 25
    with pytest.raises(ValueError, match="smtp"):
        SmtpTarget("http://x")


def test_smtp_url_upgrades_with_starttls_when_offered_and_smtps_is_tls_from_the_start():
    relay = SmtpTarget("smtp://user:secret@relay.example.kz:587")
    assert relay.start_tls is None  # aiosmtplib: STARTTLS whenever the server offers it
    assert not relay.use_tls
    implicit = SmtpTarget("smtps://user:secret@relay.example.kz")
    assert (implicit.use_tls, implicit.start_tls) == (True, False)


def test_credentials_go_in_the_clear_only_when_the_url_says_so():
    relay = SmtpTarget("smtp://user:secret@relay.example.kz:587")
    assert relay.may_log_in(encrypted=True)
    assert not relay.may_log_in(encrypted=False)
    local = SmtpTarget("smtp://user:secret@127.0.0.1:1025?insecure_auth=1")
    assert local.may_log_in(encrypted=False)
    assert not SmtpTarget("smtp://u:p@h?insecure_auth=false").insecure_auth
    with pytest.raises(ValueError, match="insecure_auth"):
        SmtpTarget("smtp://u:p@h?insecure_auth=maybe")
    with pytest.raises(ValueError, match="unknown parameters: starttls"):
        SmtpTarget("smtp://u:p@h?starttls=off")


def _row(to: str) -> SimpleNamespace:
    return SimpleNamespace(
        delivery_id=uuid.uuid4(),
        recipient=to,
        subject="Parking at the stadium",
        template="announcement",
        body_text="Parking opens at 07:00.",
        body_html="<p>Parking opens at 07:00.</p>",
        language="en",
    )


async def _send_one(url: str, to: str) -> None:
    sender = Sender(None, url, settings())  # type: ignore[arg-type]
    try:
        await sender._deliver(_row(to))
    finally:
        await sender.close()


async def test_the_embedded_sink_without_tls_still_gets_mail(own_smtp):
    own_smtp.start()
    await _send_one(own_smtp.url, "plain@example.kz")
    assert own_smtp.wait_for(1)[0].rcpt_tos == ("plain@example.kz",)


async def test_credentials_are_not_sent_to_a_server_without_starttls(own_smtp):
    own_smtp.start()
    url = f"smtp://user:secret@{own_smtp.host}:{own_smtp.port}"
    with pytest.raises(PlaintextLoginRefused, match="insecure_auth"):
        await _send_one(url, "refused@example.kz")
    assert not _classify(PlaintextLoginRefused("x"))  # retried: the relay may be fixed
    assert own_smtp.messages == []
    await _send_one(f"{url}?insecure_auth=1", "allowed@example.kz")  # a local test relay
    assert own_smtp.wait_for(1)[0].rcpt_tos == ("allowed@example.kz",)


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (made with the openssl command)."""
    if shutil.which("openssl") is None:
        pytest.skip("no openssl command to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


async def test_smtp_url_logs_in_only_after_starttls(tls_files, monkeypatch):
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    cert, key = tls_files
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    logins: list[tuple[bool, bytes]] = []
    received: list[bool] = []

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth: Any):
        logins.append((session.ssl is not None, auth.login))
        return AuthResult(success=True)

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append(session.ssl is not None)
            return "250 OK"

    port = free_port()
    # Like a production relay on 587: STARTTLS offered, required before MAIL and AUTH.
    controller = Controller(
        Handler(),
        hostname="127.0.0.1",
        port=port,
        tls_context=server_tls,
        require_starttls=True,
        auth_require_tls=True,
        authenticator=authenticate,
    )
    controller.start()
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the client trusts this certificate
    try:
        await _send_one(f"smtp://user:secret@127.0.0.1:{port}", "tls@example.kz")
    finally:
        controller.stop()
    assert logins == [(True, b"user")]
    assert received == [True]
