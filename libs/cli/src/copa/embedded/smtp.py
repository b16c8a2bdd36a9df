"""A local SMTP sink: accepts every message, delivers none, keeps them for reading.

In the embedded platform the ``notifications`` service sends real SMTP to it (the developer
reads the ``.eml`` files in ``.copa/mail/``); in tests it is how a test sees what a
participant would have received. It runs an ``aiosmtpd`` controller in a thread of the
current process, so there is no child process to manage.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from copa.embedded.ports import LOOPBACK, ensure_port_free, free_port


@dataclass(frozen=True)
class ReceivedMail:
    """One message as it arrived: the SMTP envelope and the parsed message."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    raw: bytes
    received_at: datetime
    path: Path | None = field(default=None)

    @property
    def subject(self) -> str:
        return str(self.message.get("Subject", ""))

    def text(self) -> str:
        """The plain-text body (or the HTML one when there is no plain text)."""
        body = self.message.get_body(preferencelist=("plain", "html"))
        if body is None:
            return ""
        return str(body.get_content())


class _Handler:
    """aiosmtpd handler: called on the controller's event loop thread for each DATA."""

    def __init__(self, sink: SmtpSink) -> None:
        self._sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw: bytes = envelope.original_content or envelope.content
        self._sink._receive(str(envelope.mail_from), tuple(map(str, envelope.rcpt_tos)), raw)
        return "250 Message accepted for delivery"


def _accept_any_login(*_: Any) -> Any:
    """Accept any AUTH: services configured for a real relay with credentials still work."""
    from aiosmtpd.smtp import AuthResult

    return AuthResult(success=True)


class SmtpSink:
    """SMTP server on ``127.0.0.1:<port>`` that keeps every message it receives.

    ``messages`` is a snapshot list, safe to read from any thread; ``wait_for(count)``
    blocks until that many messages have arrived (mail goes out asynchronously, through
    Kafka, so a test must wait rather than look once). With ``mail_dir`` each message is
    also written as an ``.eml`` file, with ``log_path`` one line per message is logged.
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        mail_dir: Path | None = None,
        log_path: Path | None = None,
    ) -> None:
        self.port = port if port is not None else free_port()
        self.mail_dir = Path(mail_dir).absolute() if mail_dir else None
        self.log_path = Path(log_path).absolute() if log_path else None
        self._messages: list[ReceivedMail] = []
        self._arrived = threading.Condition()
        self._controller: Any = None
        self._sequence = 0

    @property
    def host(self) -> str:
        return LOOPBACK

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._controller is not None

    @property
    def messages(self) -> list[ReceivedMail]:
        with self._arrived:
            return list(self._messages)

    def start(self) -> None:
        if self._controller is not None:
            return
        from aiosmtpd.controller import Controller

        ensure_port_free(self.port, "SMTP sink")
        for folder in (self.mail_dir, self.log_path.parent if self.log_path else None):
            if folder is not None:
                folder.mkdir(parents=True, exist_ok=True)
        controller = Controller(
            _Handler(self),
            hostname=self.host,
            port=self.port,
            enable_SMTPUTF8=True,  # participants' names are often Cyrillic
            authenticator=_accept_any_login,
            auth_require_tls=False,
            data_size_limit=50 * 1024 * 1024,
        )
        controller.start()
        self._controller = controller
        if self.log_path is not None:
            with self.log_path.open("a", encoding="utf-8") as log:
                log.write(f"{datetime.now(UTC).isoformat()} SMTP sink listening on {self.url}\n")

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def clear(self) -> None:
        """Forget the messages kept in memory (the ``.eml`` files stay)."""
        with self._arrived:
            self._messages.clear()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[ReceivedMail]:
        """Block until at least ``count`` messages are kept; return them all.

        Raises TimeoutError saying how many did arrive, which is usually the clue.
        """
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self._messages) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    subjects = [mail.subject for mail in self._messages]
                    raise TimeoutError(
                        f"expected {count} message(s) at {self.url} within {timeout} s, "
                        f"got {len(self._messages)}: {subjects}"
                    )
                self._arrived.wait(remaining)
            return list(self._messages)

    def _receive(self, mail_from: str, rcpt_tos: tuple[str, ...], raw: bytes) -> None:
        message = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(message, EmailMessage)
        received_at = datetime.now(UTC)
        with self._arrived:
            self._sequence += 1
            path = None
            if self.mail_dir is not None:
                stamp = received_at.strftime("%Y%m%dT%H%M%S.%fZ")
                path = self.mail_dir / f"{stamp}-{self._sequence:05d}.eml"
                path.write_bytes(raw)
            mail = ReceivedMail(mail_from, rcpt_tos, message, raw, received_at, path)
            if self.log_path is not None:
                with self.log_path.open("a", encoding="utf-8") as log:
                    log.write(
                        f"{received_at.isoformat()} from={mail_from} to={','.join(rcpt_tos)} "
                        f"subject={mail.subject!r} file={path or '-'}\n"
                    )
            self._messages.append(mail)
            self._arrived.notify_all()

    def __repr__(self) -> str:
        return f"SmtpSink(url={self.url}, messages={len(self.messages)})"
