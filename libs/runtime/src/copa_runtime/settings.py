"""Settings every service reads from its environment (12-factor; pydantic-settings)."""

from __future__ import annotations

from functools import cached_property

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

_POSTGRES_SCHEMES = (
    "postgresql+asyncpg",
    "postgresql+psycopg",
    "postgresql+psycopg2",
    "postgresql",
    "postgres",
)


def asyncpg_url(url: str) -> str:
    """Any PostgreSQL URL (what hosting providers, compose files and users write) in the
    ``postgresql+asyncpg://`` form the runtime uses."""
    scheme, separator, rest = url.strip().partition("://")
    if not separator or scheme not in _POSTGRES_SCHEMES:
        # The URL itself is not echoed: it may carry a password.
        raise ValueError(f"not a PostgreSQL URL (scheme {scheme!r})")
    return f"postgresql+asyncpg://{rest}"


class Settings(BaseSettings):
    """One service process's configuration.

    ``DATABASE_URL`` names this service's own database: services never share one
    (ARCHITECTURE.md, "Services and what each owns").
    """

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    service_name: str = Field(default="copa", alias="COPA_SERVICE")
    env: str = Field(default="embedded", alias="COPA_ENV")
    edition: str = Field(default="2024", alias="COPA_EDITION")
    database_url: str = Field(
        default="postgresql+asyncpg://postgres@127.0.0.1:54329/copa", alias="DATABASE_URL"
    )
    kafka_bootstrap_servers: str = Field(default="127.0.0.1:19092", alias="KAFKA_BOOTSTRAP_SERVERS")
    smtp_url: str = Field(default="smtp://127.0.0.1:1025", alias="SMTP_URL")
    jwt_secret: str = Field(default="", alias="COPA_JWT_SECRET")
    log_level: str = Field(default="INFO", alias="LOG_LEVEL")
    db_pool_size: int = Field(default=10, alias="COPA_DB_POOL_SIZE")
    # Browser origins allowed to call the HTTP API (comma-separated, `*` for any); empty: no
    # CORS headers at all (the public website of registration sets it).
    cors_allow_origins: str = Field(default="", alias="COPA_CORS_ALLOW_ORIGINS")

    # The bus. fetch_max_wait_ms is the consumer's latency floor (ARCHITECTURE.md: 500 ms
    # gives p50 ~90 ms on the embedded broker, 10 ms gives ~6 ms).
    consumer_fetch_max_wait_ms: int = Field(default=20, alias="COPA_CONSUMER_FETCH_MAX_WAIT_MS")
    consumer_max_records: int = Field(default=2000, alias="COPA_CONSUMER_MAX_RECORDS")
    consumer_session_timeout_ms: int = Field(
        default=10_000, alias="COPA_CONSUMER_SESSION_TIMEOUT_MS"
    )
    consumer_max_attempts: int = Field(default=5, alias="COPA_CONSUMER_MAX_ATTEMPTS")
    relay_batch_size: int = Field(default=2000, alias="COPA_RELAY_BATCH_SIZE")
    relay_idle_poll_s: float = Field(default=0.5, alias="COPA_RELAY_IDLE_POLL_S")

    @cached_property
    def sqlalchemy_url(self) -> str:
        return asyncpg_url(self.database_url)
