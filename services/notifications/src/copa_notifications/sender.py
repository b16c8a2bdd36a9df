"""The sender: hands recorded e-mails to the SMTP server, marks them, retries, gives up.

A message is recorded (rendered, ``pending``) before it is sent and marked ``sent`` after the
server accepted it, each in its own short transaction, so a crash never loses one. What a
crash *can* do: if the process dies after the server accepted a message and before the mark
commits, that one message is sent again once its claim lease runs out. SMTP has no
idempotency key, so this cannot be closed from our side; the ``Message-ID`` is derived from
the delivery id and is the same on every attempt, so a receiving system (or the participant's
mail client threading) can recognise the duplicate. Messages are sent one at a time and each
is marked right after it is accepted, so at most one message per crash is doubled.

Claims are leases (``next_attempt_at`` pushed ahead, ``FOR UPDATE SKIP LOCKED``), so several
worker replicas share the queue without sending a message twice. Each sender paces itself to
``COPA_NOTIFICATIONS_SEND_RATE`` messages per second. A transient failure (connection refused,
timeout, 4xx) is retried with exponential backoff; a permanent one (5xx) or too many attempts
gives up. Every outcome is published on ``notifications.deliveries.v1`` through the outbox.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from typing import Any

import aiosmtplib
from sqlalchemy import text

from copa_contracts import topics
from copa_contracts.notifications import DeliveryFailed, DeliveryGaveUp, DeliverySent
from copa_notifications.config import NotificationSettings, SmtpTarget
from copa_notifications.deliveries import message_id
from copa_runtime.db import Database
from copa_runtime.errors import is_infrastructure_failure
from copa_runtime.outbox import add_event
from copa_runtime.settings import Settings

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

_CLAIM = text(
    "UPDATE deliveries SET attempts = attempts + 1, next_attempt_at = :lease_until "
    "WHERE id IN (SELECT id FROM deliveries WHERE status = 'pending' AND next_attempt_at <= :now "
    "ORDER BY next_attempt_at, id LIMIT :limit FOR UPDATE SKIP LOCKED) "
    "RETURNING id, delivery_id, event_id, kind, trigger_event_type, participant_id, recipient, "
    "template, language, subject, body_text, body_html, attempts"
)
_SENT = text(
    "UPDATE deliveries SET status = 'sent', sent_at = :now, smtp_message_id = :message_id, "
    "last_error = NULL WHERE id = :id"
)
_RETRY = text("UPDATE deliveries SET next_attempt_at = :next, last_error = :error WHERE id = :id")
_GIVE_UP = text(
    "UPDATE deliveries SET status = 'gave_up', gave_up_at = :now, last_error = :error "
    "WHERE id = :id"
)
# Claimed but not tried (the server went away mid-batch): back to the queue, attempt uncounted.
_RELEASE = text(
    "UPDATE deliveries SET attempts = attempts - 1, next_attempt_at = :next "
    "WHERE id = ANY(:ids) AND status = 'pending'"
)


class Pacer:
    """At most ``rate`` calls per second to :meth:`wait` (evenly spaced, no bursts)."""

    def __init__(self, rate_per_s: float) -> None:
        self.interval = 1.0 / rate_per_s
        self._next = 0.0

    async def wait(self) -> None:
        now = time.monotonic()
        if self._next > now:
            await asyncio.sleep(self._next - now)
            now = self._next
        self._next = now + self.interval


class PermanentSmtpError(Exception):
    """The server refused the message for good (5xx): no retry will help."""


class PlaintextLoginRefused(aiosmtplib.SMTPException):
    """The connection stayed unencrypted (no STARTTLS offered) and the URL did not allow
    sending the credentials in the clear; retried, so a relay fixed in time still delivers."""


def _classify(exc: BaseException) -> bool:
    """True if ``exc`` is permanent (give up now), False if another attempt may succeed."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return all(r.code >= 500 for r in exc.recipients)
    if isinstance(exc, aiosmtplib.SMTPServerDisconnected | aiosmtplib.SMTPConnectError):
        return False
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return exc.code >= 500
    return False


class Sender:
    """Sends what is due until cancelled (one per worker process)."""

    def __init__(
        self,
        db: Database,
        smtp_url: str,
        config: NotificationSettings,
        *,
        clock: Clock = lambda: datetime.now(UTC),
    ) -> None:
        self.db = db
        self.target = SmtpTarget(smtp_url)
        self.config = config
        self.clock = clock
        self.pacer = Pacer(config.send_rate_per_s)
        self._smtp: aiosmtplib.SMTP | None = None
        self.sent = 0

    async def run(self) -> None:
        backoff = 0.5
        while True:
            try:
                handled = await self.send_due()
                backoff = 0.5
                if handled == 0:
                    await asyncio.sleep(self.config.idle_poll_s)
            except asyncio.CancelledError:
                await self.close()
                raise
            except Exception as exc:
                level = logging.WARNING if is_infrastructure_failure(exc) else logging.ERROR
                log.log(level, "sender interrupted; retrying", exc_info=exc)
                await self.close()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    async def send_due(self) -> int:
        """Claim one batch of due messages and try each; return how many were tried."""
        now = self.clock()
        lease_until = now + timedelta(seconds=self.config.claim_lease_s)
        async with self.db.unit_of_work() as session:
            claimed = (
                await session.execute(
                    _CLAIM,
                    {"now": now, "lease_until": lease_until, "limit": self.claim_size},
                )
            ).all()
        rows = sorted(claimed, key=lambda row: row.id)
        for index, row in enumerate(rows):
            await self.pacer.wait()
            try:
                mid = await self._deliver(row)
            except Exception as exc:
                permanent = _classify(exc)
                await self._failed(row, exc, permanent=permanent)
                if not permanent and not isinstance(exc, aiosmtplib.SMTPResponseException):
                    # The server is unreachable: the rest of the batch waits with this one.
                    await self._release([r.id for r in rows[index + 1 :]], row.attempts)
                    return index + 1
                continue
            await self._sent(row, mid)
        return len(rows)

    async def _deliver(self, row: Any) -> str:
        mid = message_id(row.delivery_id, self.config.mail_from)
        message = EmailMessage()
        message["From"] = self.config.mail_from
        message["To"] = formataddr(("", row.recipient))
        message["Subject"] = row.subject
        message["Date"] = format_datetime(self.clock())
        message["Message-ID"] = mid
        message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies
        message["X-Copa-Template"] = row.template
        message.set_content(row.body_text)
        message.add_alternative(row.body_html, subtype="html")
        message["Content-Language"] = row.language  # after the body: set_content drops Content-*
        smtp = await self._client()
        try:
            await smtp.send_message(message)
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPConnectError, OSError):
            await self.close()
            raise
        return mid

    async def _client(self) -> aiosmtplib.SMTP:
        if self._smtp is not None and self._smtp.is_connected:
            return self._smtp
        await self.close()
        smtp = aiosmtplib.SMTP(
            hostname=self.target.hostname,
            port=self.target.port,
            use_tls=self.target.use_tls,
            start_tls=self.target.start_tls,
            timeout=self.config.smtp_timeout_s,
        )
        await smtp.connect()  # upgrades with STARTTLS here when the server offers it
        if self.target.username:
            encrypted = smtp.get_transport_info("sslcontext") is not None
            if not self.target.may_log_in(encrypted=encrypted):
                smtp.close()
                raise PlaintextLoginRefused(
                    f"{self.target.hostname}:{self.target.port} offers no STARTTLS; not sending "
                    "credentials in the clear (use smtps://, or add ?insecure_auth=1 to SMTP_URL)"
                )
            await smtp.login(self.target.username, self.target.password or "")
        self._smtp = smtp
        return smtp

    async def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None and smtp.is_connected:
            try:
                await asyncio.wait_for(smtp.quit(), 5)
            except Exception:
                smtp.close()

    def _head(self, row: Any) -> dict[str, Any]:
        return {
            "delivery_id": row.delivery_id,
            "template": row.template,
            "trigger_event_id": row.event_id if row.kind == "event" else None,
            "trigger_event_type": row.trigger_event_type,
            "participant_id": row.participant_id,
            "attempt": row.attempts,
        }

    async def _sent(self, row: Any, mid: str) -> None:
        now = self.clock()
        async with self.db.unit_of_work() as session:
            await session.execute(_SENT, {"now": now, "message_id": mid, "id": row.id})
            await add_event(
                session,
                topics.DELIVERIES,
                DeliverySent(**self._head(row), sent_at=now, smtp_message_id=mid),
                key=str(row.delivery_id),
            )
        self.sent += 1

    async def _failed(self, row: Any, exc: BaseException, *, permanent: bool) -> None:
        now = self.clock()
        error = f"{type(exc).__name__}: {exc}"[:2000]
        async with self.db.unit_of_work() as session:
            if permanent or row.attempts >= self.config.max_attempts:
                log.error(
                    "delivery given up",
                    extra={"delivery_id": str(row.delivery_id), "attempts": row.attempts},
                )
                await session.execute(_GIVE_UP, {"now": now, "error": error, "id": row.id})
                event: DeliveryGaveUp | DeliveryFailed = DeliveryGaveUp(
                    **self._head(row), gave_up_at=now, error=error
                )
            else:
                next_at = now + timedelta(seconds=self.backoff_s(row.attempts))
                await session.execute(_RETRY, {"next": next_at, "error": error, "id": row.id})
                event = DeliveryFailed(
                    **self._head(row), failed_at=now, error=error, next_attempt_at=next_at
                )
            await add_event(session, topics.DELIVERIES, event, key=str(row.delivery_id))

    async def _release(self, ids: list[int], attempts: int) -> None:
        if not ids:
            return
        next_at = self.clock() + timedelta(seconds=self.backoff_s(attempts))
        async with self.db.unit_of_work() as session:
            await session.execute(_RELEASE, {"ids": ids, "next": next_at})

    @property
    def claim_size(self) -> int:
        """Claim no more than can be sent in half the lease at the paced rate, so a claim
        never expires while its sender is still working through it (another replica would
        then send the same message)."""
        fits = int(self.config.send_rate_per_s * self.config.claim_lease_s / 2)
        return max(1, min(self.config.batch_size, fits))

    def backoff_s(self, attempts: int) -> float:
        """Delay after the ``attempts``-th failure: base, 2 base, 4 base... up to the cap."""
        return float(
            min(self.config.backoff_base_s * 2 ** (attempts - 1), self.config.backoff_max_s)
        )


async def run_sender(db: Database, settings: Settings) -> None:
    """The worker entry point (``ServiceDefinition.workers``)."""
    await Sender(db, settings.smtp_url, NotificationSettings()).run()
