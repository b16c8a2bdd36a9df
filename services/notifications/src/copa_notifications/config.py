"""Notifications' own settings (next to the runtime's ``SMTP_URL`` and the rest)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class NotificationSettings(BaseSettings):
    """How fast, how often and from whom e-mail goes out; read from the environment."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    mail_from: str = Field(
        default="Copa Run <noreply@copa.run>", alias="COPA_NOTIFICATIONS_MAIL_FROM"
    )
    send_rate_per_s: float = Field(
        default=20.0,
        gt=0,
        alias="COPA_NOTIFICATIONS_SEND_RATE",
        description="Messages per second one sender hands to the SMTP server, at most.",
    )
    max_attempts: int = Field(default=8, ge=1, alias="COPA_NOTIFICATIONS_MAX_ATTEMPTS")
    backoff_base_s: float = Field(default=5.0, gt=0, alias="COPA_NOTIFICATIONS_BACKOFF_BASE_S")
    backoff_max_s: float = Field(default=900.0, gt=0, alias="COPA_NOTIFICATIONS_BACKOFF_MAX_S")
    claim_lease_s: float = Field(
        default=120.0,
        gt=0,
        alias="COPA_NOTIFICATIONS_CLAIM_LEASE_S",
        description="A claimed message not marked within this is due again (its sender died).",
    )
    batch_size: int = Field(default=50, ge=1, alias="COPA_NOTIFICATIONS_BATCH_SIZE")
    idle_poll_s: float = Field(default=0.5, gt=0, alias="COPA_NOTIFICATIONS_IDLE_POLL_S")
    smtp_timeout_s: float = Field(default=30.0, gt=0, alias="COPA_NOTIFICATIONS_SMTP_TIMEOUT_S")
    reminder_poll_s: float = Field(default=300.0, gt=0, alias="COPA_NOTIFICATIONS_REMINDER_POLL_S")
    templates_dir: Path | None = Field(
        default=None,
        alias="COPA_NOTIFICATIONS_TEMPLATES_DIR",
        description="Another folder of templates (an operator's wording); default: the package's.",
    )
    public_results_url: str = Field(
        default="https://copa.run/results", alias="COPA_PUBLIC_RESULTS_URL"
    )


_YES = ("1", "true", "yes")
_NO = ("0", "false", "no")


class SmtpTarget:
    """``smtp://[user:password@]host[:port][?insecure_auth=1]``, or ``smtps://`` for implicit TLS.

    ``smtp://`` (port 25 by default) upgrades with STARTTLS whenever the server offers it, so a
    production relay on 587 is encrypted; a server that offers no TLS (the embedded sink,
    Mailpit) is spoken to in plain text. Credentials are never sent over a connection that
    stayed unencrypted unless the URL says ``insecure_auth=1`` (a local test relay):
    :attr:`may_log_in` is asked after the connection is made. ``smtps://`` (port 465 by
    default) is TLS from the first byte.
    """

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError(f"SMTP_URL must be smtp:// or smtps://, got {parts.scheme!r}")
        self.hostname = parts.hostname or "127.0.0.1"
        self.use_tls = parts.scheme == "smtps"
        # None: STARTTLS if the server offers it (aiosmtplib); implicit TLS needs no upgrade.
        self.start_tls: bool | None = False if self.use_tls else None
        self.port = parts.port or (465 if self.use_tls else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        query = parse_qs(parts.query, keep_blank_values=True)
        unknown = set(query) - {"insecure_auth"}
        if unknown:
            raise ValueError(f"SMTP_URL has unknown parameters: {', '.join(sorted(unknown))}")
        flag = query.get("insecure_auth", ["0"])[-1].lower()
        if flag not in _YES + _NO:
            raise ValueError(f"SMTP_URL: insecure_auth must be 1 or 0, got {flag!r}")
        self.insecure_auth = flag in _YES

    def may_log_in(self, *, encrypted: bool) -> bool:
        """Whether the credentials may be sent on a connection that is (or is not) encrypted."""
        return encrypted or self.insecure_auth

    def __repr__(self) -> str:  # never the password
        scheme = "smtps" if self.use_tls else "smtp"
        user = f"{self.username}:***@" if self.username else ""
        return f"SmtpTarget({scheme}://{user}{self.hostname}:{self.port})"
