"""Every message of the HTML outputs is translated in every catalog; languages and formats."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from loyalty.web.i18n import LANGUAGES, Formats, catalog_path, negotiate, translations
from rules import notes
from rules.notes import Note

WEB = Path(__file__).resolve().parents[2] / "loyalty" / "web"
METHODS = [("**.py", "python"), ("templates/**.html", "jinja2")]


def extracted_messages() -> set[str]:
    found = {message for _, _, message, _, _ in extract_from_dir(str(WEB), METHODS)}
    assert len(found) > 50  # the extraction itself works
    return {m for m in found if isinstance(m, str)}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_message_has_a_translation_in_every_catalog(lang: str) -> None:
    with catalog_path(lang).open("rb") as po:
        catalog = read_po(po, locale=lang)
    translated = {m.id for m in catalog if m.id and m.string and not m.fuzzy}

    assert extracted_messages() - translated == set()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_note_template_is_translated_with_the_same_values(lang: str) -> None:
    with catalog_path(lang).open("rb") as po:
        catalog = read_po(po, locale=lang)
    found = {m.id: m.string for m in catalog if m.id and m.string and not m.fuzzy}

    missing = [n.text for n in notes.TEMPLATES if n.text not in found]
    renamed = [
        n.text
        for n in notes.TEMPLATES
        if n.text in found and sorted(Note(found[n.text]).names) != sorted(n.names)
    ]
    assert (missing, renamed) == ([], [])


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_word_inside_notes_is_translated_in_its_context(lang: str) -> None:
    with catalog_path(lang).open("rb") as po:
        catalog = read_po(po, locale=lang)
    found = {(m.context, m.id) for m in catalog if m.context and m.string and not m.fuzzy}

    wanted = {(name, value) for name, values in notes.WORDS.items() for value in values}
    assert wanted - found == set()


@pytest.mark.parametrize(
    ("lang", "note", "shown"),
    [
        ("fr", "expired on 2026-04-01", "expirés le 2026-04-01"),
        ("de", "order moved to another customer; approved review",
         "Bestellung einem anderen Kunden zugeordnet; Bewertung freigegeben"),
        ("ar", "redeemed for coupon loyalty-ab12", "استُبدلت بالقسيمة loyalty-ab12"),
        ("id", "comment earns nothing: over the daily cap of 3",
         "komentar tanpa poin: melebihi batas harian 3"),
        ("en", "expired on 2026-04-01", "expired on 2026-04-01"),
        ("fr", "completed; base 12.5 × 1 = 12 (floor)",
         "terminée ; base 12.5 × 1 = 12 (arrondi inférieur)"),
        ("de", "status hold", "Status wartet auf Freigabe"),
        ("en", "on-hold; base 3 below minimum 5", "on-hold; base 3 below minimum 5"),
        ("fr", "40 points given back: the expiry of 2025-01-31 on guest ana@example.org took them"
               " in excess before its balance moved here",
         "40 points rendus : l’expiration du 2025-01-31 chez l’invité ana@example.org les avait"
         " pris en trop avant que son solde ne soit transféré ici"),
    ],
)  # fmt: skip
def test_notes_read_in_each_language(lang: str, note: str, shown: str) -> None:
    catalog = translations(lang)
    assert notes.translate(note, catalog.gettext, catalog.pgettext) == shown


@pytest.mark.parametrize(
    ("lang", "title"),
    [("en", "Points status"), ("fr", "État des points"), ("de", "Punktestatus"),
     ("ar", "حالة النقاط"), ("id", "Status poin")],
)  # fmt: skip
def test_catalogs_compile_and_translate(lang: str, title: str) -> None:
    assert translations(lang).gettext("Points status") == title


@pytest.mark.parametrize(
    ("query", "accept", "default", "chosen"),
    [
        ("fr", "de-DE,de;q=0.9", "en", "fr"),
        (None, "de-DE,de;q=0.9,en;q=0.5", "en", "de"),
        (None, "ar-EG", "en", "ar"),
        (None, "ja-JP,ja;q=0.9", "id", "id"),
        ("xx", None, "fr", "fr"),
        (None, "en;q=0.2,id;q=0.8", "fr", "id"),
        (None, "garbage;q=x", "de", "de"),
    ],
)
def test_language_comes_from_the_query_then_accept_language_then_the_default(
    query: str | None, accept: str | None, default: str, chosen: str
) -> None:
    assert negotiate(query, accept, default) == chosen


def test_numbers_money_and_dates_follow_the_locale() -> None:
    fr, de, ar = Formats("fr", "EUR"), Formats("de", "EUR"), Formats("ar", "EUR")

    assert fr.number(1234567) == "1\u202f234\u202f567"
    assert de.number(1234567) == "1.234.567"
    assert fr.money(Decimal("1234.5")) == "1\u202f234,50\u00a0€"
    assert de.day(date(2024, 3, 1)) == "01.03.2024"
    assert Formats("en", "USD").money(Decimal("0.9")) == "$0.90"
    assert ar.rtl
    assert not fr.rtl
