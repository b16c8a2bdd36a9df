"""Rendering without any server: every template in every language, plural forms, local
times, money in KZT, HTML escaping, and no untranslated string (issue 7)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from copa_contracts.edition import load_edition
from copa_notifications.render import (
    LANGUAGES,
    LOCALES_DIR,
    TEMPLATES_DIR,
    Renderer,
    RenderError,
    format_duration,
)
from copa_notifications.samples import SAMPLES, sample_context

EDITION = load_edition("2024")


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(EDITION, public_results_url="https://copa.run/results/2024")


def flat(text: str) -> str:
    """Babel groups digits with no-break spaces: compare with plain ones."""
    return re.sub(r"[\u00a0\u202f]", " ", text)


def test_every_template_has_sample_data_and_renders_in_every_language(renderer):
    assert set(renderer.templates()) == set(SAMPLES)
    for template in SAMPLES:
        for language in LANGUAGES:
            out = renderer.render(template, language, sample_context(template))
            assert out.subject, (template, language)
            assert "\n" not in out.subject
            assert "Aigerim" in out.text
            assert "Aigerim" in out.html
            assert out.html.lstrip().startswith("<!DOCTYPE html>")
            assert f'lang="{language}"' in out.html


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("ru", ["Оплата подтверждена", "стартовый номер 1042", "7 000 ₸", "1000 м", "35-44"]),
        ("kk", ["Төлем расталды", "старттық нөмір 1042", "7 000 ₸", "1000 м", "35-44"]),
        ("en", ["Payment confirmed", "BIB 1042", "7,000 KZT", "1000 m", "35-44"]),
    ],
)
def test_payment_confirmation_speaks_the_participants_language(renderer, language, words):
    out = renderer.render("participant-paid", language, sample_context("participant-paid"))
    body = flat(out.subject + "\n" + out.text)
    for word in words:
        assert word in body, (word, body)


@pytest.mark.parametrize(
    ("language", "count", "expected"),
    [
        ("ru", 1, "на 1 следующий розыгрыш."),
        ("ru", 3, "на 3 следующих розыгрыша."),
        ("ru", 5, "на 5 следующих розыгрышей."),
        ("ru", 11, "на 11 следующих розыгрышей."),
        ("ru", 21, "на 21 следующий розыгрыш."),
        ("ru", 22, "на 22 следующих розыгрыша."),
        ("kk", 1, "келесі 1 өтуіне"),
        ("kk", 3, "келесі 3 өтуіне"),
        ("en", 1, "the next 1 edition of"),
        ("en", 3, "the next 3 editions of"),
    ],
)
def test_ban_length_uses_the_languages_plural_form(renderer, language, count, expected):
    # reg 7.11: a ban for a number of editions; ru has 3 plural forms, kk and en 2.
    out = renderer.render(
        "participant-banned",
        language,
        {**sample_context("participant-banned"), "editions_banned": count},
    )
    assert expected in out.text


@pytest.mark.parametrize(
    ("runners", "expected"),
    [
        (1, "В команде 1 бегун:"),
        (2, "В команде 2 бегуна:"),
        (4, "В команде 4 бегуна:"),
        (5, "В команде 5 бегунов:"),
    ],
)
def test_relay_team_size_in_russian_plural_forms(renderer, runners, expected):
    members = [
        {"leg": n, "leg_distance_m": 100, "first_name": "R", "last_name": str(n)}
        for n in range(1, runners + 1)
    ]
    context = {**sample_context("relay-team-registered"), "members": members}
    assert expected in renderer.render("relay-team-registered", "ru", context).text


def test_times_are_shown_in_almaty_time_across_the_2024_offset_change(renderer):
    # RULES §1: Asia/Almaty was UTC+6 until 2024-03-01 and UTC+5 after; a fixed offset would
    # be wrong on one side of the change.
    before = renderer.render(
        "application-received",
        "en",
        {
            **sample_context("application-received"),
            "hold_expires_at": dt.datetime(2024, 2, 20, 6, 30, tzinfo=dt.UTC),
        },
    )
    assert "February 20, 2024, 12:30" in flat(before.text)
    start = renderer.render("start-list", "ru", sample_context("start-list"))  # 04:15 UTC
    assert "в 09:15" in start.subject
    assert "17 марта 2024" in start.text
    assert "Asia/Almaty" in start.text


def test_money_is_whole_tenge_formatted_per_locale(renderer):
    context = sample_context("distance-changed")  # 1,000 + 2,000 KZT (reg 7.6)
    assert "3 000 ₸" in flat(renderer.render("distance-changed", "ru", context).text)
    assert "3 000 ₸" in flat(renderer.render("distance-changed", "kk", context).text)
    assert "3,000 KZT" in flat(renderer.render("distance-changed", "en", context).text)


def test_html_escapes_what_people_typed_and_plain_text_keeps_it(renderer):
    context = {
        **sample_context("protest-received"),
        "first_name": "<script>x</script>",
        "claim": "a < b & c",
    }
    out = renderer.render("protest-received", "en", context)
    assert "<script>" not in out.html
    assert "&lt;script&gt;" in out.html
    assert "a &lt; b &amp; c" in out.html
    assert "<script>x</script>" in out.text
    assert "a < b & c" in out.text


def test_result_shows_time_places_and_q_in_each_language(renderer):
    context = sample_context("result-official")  # 12.34, 2nd in race, 5th in category, q
    en = renderer.render("result-official", "en", context)
    assert "Time: 12.34." in en.text
    assert "Place in your race: 2." in en.text
    assert "Place in category 18-34: 5." in en.text
    assert "Place among women: 9." in en.text
    assert "(q)" in en.text
    assert "https://copa.run/results/2024" in en.text
    ru = renderer.render("result-official", "ru", context)
    assert "Время: 12.34." in ru.text
    assert "Место среди женщин: 9." in ru.text
    kk = renderer.render("result-official", "kk", context)
    assert "Уақыт: 12.34." in kk.text
    assert "Әйелдер арасындағы орын: 9." in kk.text
    dq = {
        **context,
        "entry": {**context["entry"], "status": "DQ", "place": None, "dq_rule": "TR16.8"},
    }
    assert "DQ TR16.8" in renderer.render("result-corrected", "en", dq).text


def test_missing_data_fails_the_render_instead_of_leaving_a_blank(renderer):
    context = sample_context("kit-issued")
    del context["bib"]
    with pytest.raises(RenderError, match="bib"):
        renderer.render("kit-issued", "ru", context)
    with pytest.raises(RenderError):
        renderer.render("no-such-template", "ru", sample_context("kit-issued"))


def test_every_string_of_every_template_is_translated_in_russian_and_kazakh():
    msgids = {
        message if isinstance(message, str) else message[0]
        for _, _, message, _, _ in extract_from_dir(
            str(TEMPLATES_DIR),
            method_map=[("**.j2", "jinja2")],
            options_map={"**.j2": {"extensions": "jinja2.ext.i18n", "newstyle_gettext": "true"}},
        )
    }
    assert len(msgids) > 90
    for language, forms in (("ru", 3), ("kk", 2)):
        with (LOCALES_DIR / language / "LC_MESSAGES" / "messages.po").open("rb") as po:
            catalog = read_po(po)
        assert catalog.num_plurals == forms
        translated = {
            (m.id if isinstance(m.id, str) else m.id[0])
            for m in catalog
            if m.id and (all(m.string) if isinstance(m.string, tuple) else m.string)
        }
        assert msgids <= translated, sorted(msgids - translated)


@pytest.mark.parametrize(
    ("us", "shown"),
    [
        (12_340_000, "12.34"),
        (185_270_000, "3:05.27"),
        (3_723_450_000, "1:02:03.45"),
        (9_999_999, "9.99"),
    ],
)
def test_times_are_shown_to_the_hundredth(us, shown):
    assert format_duration(us) == shown
