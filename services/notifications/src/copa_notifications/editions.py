"""Which edition's config and renderer an event is written with (one per edition, cached)."""

from __future__ import annotations

from functools import lru_cache

from copa_contracts.edition import Edition, load_edition
from copa_notifications.config import NotificationSettings
from copa_notifications.render import TEMPLATES_DIR, Renderer
from copa_runtime.errors import PermanentError
from copa_runtime.settings import Settings


@lru_cache(maxsize=1)
def settings() -> NotificationSettings:
    return NotificationSettings()


@lru_cache(maxsize=16)
def edition(code: str) -> Edition:
    try:
        return load_edition(code)
    except (FileNotFoundError, ValueError) as exc:
        raise PermanentError(f"no configuration for edition {code!r}: {exc}") from exc


@lru_cache(maxsize=16)
def renderer(code: str) -> Renderer:
    config = settings()
    return Renderer(
        edition(code),
        public_results_url=config.public_results_url,
        templates_dir=config.templates_dir or TEMPLATES_DIR,
    )


@lru_cache(maxsize=1)
def default_edition() -> str:
    """The edition this deployment runs (``COPA_EDITION``), for events that do not name one."""
    return Settings().edition
