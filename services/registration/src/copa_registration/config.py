"""Registration's own settings, its clock, and the one context every handler shares.

The edition config (`editions/<COPA_EDITION>.toml`) holds every number of the rules; these
settings hold only what varies per deployment: the payment provider and its secrets, the hold
sweeper's pace, and an injectable clock (the edition is in 2024; tests and demos run "as if"
on a day of the registration window or the kit days).
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
from dataclasses import dataclass, field

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from copa_contracts.edition import Edition, load_edition


class RegistrationSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    edition: str = Field(default="2024", alias="COPA_EDITION")
    payment_provider: str = Field(
        default="sandbox",
        alias="COPA_PAYMENT_PROVIDER",
        description="`sandbox` (embedded platform) or `cloudpayments`.",
    )
    sandbox_secret: str = Field(
        default="copa-sandbox-pay-secret-not-for-production", alias="COPA_SANDBOX_PAY_SECRET"
    )
    cloudpayments_public_id: str = Field(default="", alias="COPA_CLOUDPAYMENTS_PUBLIC_ID")
    cloudpayments_api_secret: str = Field(default="", alias="COPA_CLOUDPAYMENTS_API_SECRET")
    cloudpayments_widget_url: str = Field(
        default="https://widget.cloudpayments.kz/bundles/cloudpayments.js",
        alias="COPA_CLOUDPAYMENTS_WIDGET_URL",
    )
    hold_sweep_interval_s: float = Field(default=5.0, alias="COPA_HOLD_SWEEP_INTERVAL_S")
    clock_start: dt.datetime | None = Field(
        default=None,
        alias="COPA_REGISTRATION_CLOCK_START",
        description="Run the clock from this instant at start-up (demos, tests).",
    )
    clock_control: bool = Field(
        default=False,
        alias="COPA_REGISTRATION_CLOCK_CONTROL",
        description="Expose PUT /testing/clock to move the clock (never in production).",
    )


@dataclass
class Clock:
    """The service's notion of now: the system clock, optionally shifted by an offset.

    Injectable (RULES: kit desk only on kit days and hours, holds expire after 30 min): tests
    start the service "on" a day of 2024 and move time forward without waiting.
    """

    offset: dt.timedelta = dt.timedelta(0)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.offset

    def set(self, instant: dt.datetime) -> None:
        if instant.tzinfo is None:
            raise ValueError("the clock needs an aware instant")
        with self._lock:
            self.offset = instant - dt.datetime.now(dt.UTC)


@dataclass
class Context:
    settings: RegistrationSettings
    edition: Edition
    clock: Clock


@functools.cache
def context() -> Context:
    """The process's context (one edition, one clock shared by the API and the sweeper)."""
    settings = RegistrationSettings()
    clock = Clock()
    if settings.clock_start is not None:
        start = settings.clock_start
        if start.tzinfo is None:
            raise ValueError("COPA_REGISTRATION_CLOCK_START needs a UTC offset")
        clock.set(start)
    return Context(settings=settings, edition=load_edition(settings.edition), clock=clock)


def reset_context() -> None:
    """Forget the cached context (unit tests that change the environment)."""
    context.cache_clear()


__all__ = ["Clock", "Context", "RegistrationSettings", "context", "reset_context"]
