"""Rendering e-mails from the template files, in the recipient's language.

Templates are Jinja2 files in ``templates/``: ``<name>.txt.j2`` (the plain text, with the
subject in its ``subject`` block) and ``<name>.html.j2`` (autoescaped). Strings are English
msgids translated the gettext way from ``locales/<lang>/LC_MESSAGES/messages.po``; the ``.po``
files are compiled in memory at start-up with Babel, so a fresh checkout needs no build step.
Plural forms come from each catalogue's ``Plural-Forms`` header (ru 3 forms, kk and en 2).

Dates and times are shown in the edition's time zone (RULES §1), money in KZT formatted for
the recipient's locale (RULES §1: whole tenge). Nothing here touches a database or a socket.
"""

from __future__ import annotations

import datetime as dt
import gettext
import io
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from babel.dates import format_date, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal
from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateError

from copa_contracts.edition import Edition

PACKAGE_DIR = Path(__file__).parent
TEMPLATES_DIR = PACKAGE_DIR / "templates"
LOCALES_DIR = PACKAGE_DIR / "locales"
LANGUAGES: tuple[str, ...] = ("ru", "kk", "en")
_BABEL_LOCALE = {"ru": "ru_KZ", "kk": "kk_KZ", "en": "en"}


class RenderError(Exception):
    """A template could not be rendered (missing file, bad syntax, missing data)."""


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def load_translations(language: str, locales_dir: Path = LOCALES_DIR) -> gettext.GNUTranslations:
    """Compile ``<lang>/LC_MESSAGES/messages.po`` in memory (Babel) into a GNU catalogue."""
    path = locales_dir / language / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as po:
        catalog = read_po(po, locale=_BABEL_LOCALE[language])
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def format_duration(us: int) -> str:
    """A time as results show it: ``12.34``, ``3:05.27``, ``1:02:03.45`` (1/100 s, RULES §6).

    Official times are already rounded up to the edition's resolution; this only truncates
    the microseconds below 1/100 s, so it never changes a shown time.
    """
    hundredths = us // 10_000
    seconds, cs = divmod(hundredths, 100)
    minutes, sec = divmod(seconds, 60)
    hours, mins = divmod(minutes, 60)
    if hours:
        return f"{hours}:{mins:02d}:{sec:02d}.{cs:02d}"
    if mins:
        return f"{mins}:{sec:02d}.{cs:02d}"
    return f"{sec}.{cs:02d}"


def _raise_unknown(value: object) -> str:
    raise ValueError(f"no wording for {value!r}")


class Renderer:
    """Renders any template in any of the three languages for one edition."""

    def __init__(
        self,
        edition: Edition,
        *,
        public_results_url: str,
        templates_dir: Path = TEMPLATES_DIR,
        locales_dir: Path = LOCALES_DIR,
    ) -> None:
        self.edition = edition
        self.public_results_url = public_results_url
        self.templates_dir = templates_dir
        self.locales_dir = locales_dir

    @cached_property
    def _environments(self) -> dict[str, Environment]:
        return {language: self._environment(language) for language in LANGUAGES}

    def templates(self) -> list[str]:
        """Names of the e-mails there are templates for (``<name>.txt.j2`` files)."""
        return sorted(
            path.name.removesuffix(".txt.j2")
            for path in self.templates_dir.glob("*.txt.j2")
            if not path.name.startswith("_")
        )

    def render(self, template: str, language: str, context: Mapping[str, Any]) -> Rendered:
        env = self._environments.get(language)
        if env is None:
            raise RenderError(f"no language {language!r}; known: {', '.join(LANGUAGES)}")
        values = {
            "edition_name": self.edition.name,
            "public_results_url": self.public_results_url,
            **context,
        }
        try:
            text_template = env.get_template(f"{template}.txt.j2")
            subject_block = text_template.blocks.get("subject")
            if subject_block is None:
                raise RenderError(f"{template}.txt.j2 has no subject block")
            subject = "".join(subject_block(text_template.new_context(values))).strip()
            text = text_template.render(values).strip() + "\n"
            html = env.get_template(f"{template}.html.j2").render(values).strip() + "\n"
        except TemplateError as exc:
            raise RenderError(f"{template} ({language}): {type(exc).__name__}: {exc}") from exc
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise RenderError(f"{template} ({language}): {type(exc).__name__}: {exc}") from exc
        return Rendered(subject=" ".join(subject.split()), text=text, html=html)

    def _environment(self, language: str) -> Environment:
        env = Environment(
            loader=FileSystemLoader(self.templates_dir),
            autoescape=lambda name: name is not None and name.endswith(".html.j2"),
            undefined=StrictUndefined,  # missing data fails the render, it is never blank
            extensions=["jinja2.ext.i18n"],
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        translations = load_translations(language, self.locales_dir)
        env.install_gettext_translations(translations, newstyle=True)  # type: ignore[attr-defined]
        locale = _BABEL_LOCALE[language]
        zone = self.edition.zone
        gettext_ = translations.gettext

        def local(value: dt.datetime) -> dt.datetime:
            if value.tzinfo is None:
                raise ValueError("an instant without a zone")
            return value.astimezone(zone)

        def money(kzt: int) -> str:
            # RULES §1: whole tenge; "5 000 ₸" in ru/kk, "5,000 KZT" in en.
            return format_currency(
                kzt, "KZT", format="#,##0\u00a0¤", currency_digits=False, locale=locale
            )

        def distance(code: str) -> str:
            if code == self.edition.relay.code:
                return gettext_("medley relay")
            try:
                metres = self.edition.distance(code).length_m
            except KeyError:
                return code
            return gettext_("%(metres)s m") % {"metres": metres}

        env.filters.update(
            money=money,
            distance=distance,
            duration=format_duration,
            number=lambda n: format_decimal(n, locale=locale),
            date=lambda d: format_date(d, "long", locale=locale),
            local_date=lambda t: format_date(local(t).date(), "long", locale=locale),
            local_time=lambda t: format_time(local(t), "short", locale=locale),
            local_datetime=lambda t: (
                format_date(local(t).date(), "long", locale=locale)
                + ", "
                + format_time(local(t), "short", locale=locale)
            ),
            clock=lambda t: format_time(t, "short", locale=locale),
        )
        env.globals.update(
            time_zone=self.edition.time_zone, language=language, raise_unknown=_raise_unknown
        )
        return env
