"""Keep the ``.po`` catalogues in step with the templates.

    uv run python -m copa_notifications.i18n check    # exit 1 if a string lacks a translation
    uv run python -m copa_notifications.i18n update   # add new strings, mark removed ones obsolete

Strings are extracted from the templates (Babel's Jinja2 extractor) and from ``render.py``;
``update`` merges them into each language's catalogue, keeping existing translations, and
leaves the new ones empty for a translator. Nothing needs compiling: the service reads the
``.po`` files at start-up.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from copa_notifications.render import LANGUAGES, LOCALES_DIR, TEMPLATES_DIR

# Strings the Python code translates (render.py's filters).
CODE_MESSAGES = ("medley relay", "%(metres)s m")
SOURCE_LANGUAGE = "en"


def extract(templates_dir: Path = TEMPLATES_DIR) -> Catalog:
    template = Catalog(project="copa-notifications", fuzzy=False)
    for filename, lineno, message, _, _ in extract_from_dir(
        str(templates_dir),
        method_map=[("**.j2", "jinja2")],
        options_map={
            "**.j2": {
                "extensions": "jinja2.ext.i18n",
                "newstyle_gettext": "true",
                "trim_blocks": "true",
                "lstrip_blocks": "true",
            }
        },
    ):
        template.add(
            message, locations=[(f"templates/{filename}", lineno)], flags=("python-format",)
        )
    for message in CODE_MESSAGES:
        template.add(message, locations=[("render.py", 1)], flags=("python-format",))
    return template


def _path(language: str) -> Path:
    return LOCALES_DIR / language / "LC_MESSAGES" / "messages.po"


def untranslated(language: str, template: Catalog) -> list[str]:
    with _path(language).open("rb") as po:
        catalog = read_po(po)
    missing = []
    for message in template:
        if not message.id:
            continue
        found = catalog.get(message.id)
        strings = found.string if found is not None else ""
        done = all(strings) if isinstance(strings, tuple) else bool(strings)
        if not done:
            missing.append(message.id if isinstance(message.id, str) else message.id[0])
    return missing


def update(template: Catalog) -> None:
    for language in LANGUAGES:
        with _path(language).open("rb") as po:
            catalog = read_po(po)
        catalog.update(template, no_fuzzy_matching=True)
        with _path(language).open("wb") as po:
            write_po(po, catalog, width=100, ignore_obsolete=True)


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "check"
    template = extract()
    if command == "update":
        update(template)
    missing = {
        language: untranslated(language, template)
        for language in LANGUAGES
        if language != SOURCE_LANGUAGE
    }
    for language, ids in missing.items():
        for message_id in ids:
            print(f"{language}: untranslated: {message_id}")
    return 1 if any(missing.values()) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
