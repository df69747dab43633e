"""Entry notes are written from templates and read back from them, in any language."""

from __future__ import annotations

import pytest

from rules import notes
from rules.notes import Note, parse, translate

#: A catalog that marks what it translated: «text», the values left in place.
MARKED = {note.text: f"«{note.text}»" for note in notes.TEMPLATES}


def marked(text: str) -> str:
    return MARKED.get(text, text)


SAMPLE_VALUES = {
    "status": "completed",
    "why": "status does not earn",
    "codes": "spring10, vip",
    "base": "25.5",
    "minimum": "30",
    "rate": "2",
    "fixed": "5",
    "points": "56",
    "rounding": "floor",
    "cap": "40",
    "note": "approved review",
    "tier": "gold",
    "modified": "2026-03-01T10:00:00Z",
    "refunds": "7,9",
    "until": "2026-03-15 10:00",
    "decided": "50",
    "version": "2026-spring",
    "reason": "comment",
    "length": "20",
    "registered": "2026-01-02T03:04:05Z",
    "started": "2026-02-01T00:00:00Z",
    "email": "ana@example.org",
    "account": "17",
    "day": "2026-04-01",
    "cause": "order:1042",
    "paid": "10",
    "left": "5",
    "code": "loyalty-ab12",
    "message": "Coupon code already exists",
    "expired": "0",
    "recorded": "100",
    "owed": "12",
    "name": "'gold+'",
    "known": "10-off, 40-off",
    "balance": "999",
    "missing": "1001",
    "lowest": "100",
    "most": "5000",
    "step": "50",
    "cent": "0.01",
    "customer": "7",
    "request": "'abcdefghijklmnop'",
    "limit": "1,000,000,000",
    "error": "GET customers: HTTP 403 Sorry, you cannot view",
    "endpoint": "products/reviews",
    "sources": "orders, comments",
    "count": "3",
    "given": "40",
}


@pytest.mark.parametrize("note", notes.TEMPLATES, ids=lambda n: n.text)
def test_every_template_reads_back_as_itself_with_its_values(note: Note) -> None:
    values = {name: SAMPLE_VALUES[name] for name in note.names}

    assert parse(note(**values)) == (note, values)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("order deleted from the store", "«order deleted from the store»"),
        ("status does not earn", "«status does not earn»"),  # not `status {status}`
        ("status spam", "«status {status}»".replace("{status}", "spam")),
        ("completed; status does not earn", "«{status}; {why}»"
         .replace("{status}", "completed").replace("{why}", "«status does not earn»")),
        ("completed; base 25 × 2 = 50 (floor)",
         "«{status}; base {base} × {rate} = {points} ({rounding})»"
         .format(status="completed", base="25", rate="2", points="50", rounding="floor")),
        ("review earns nothing: over the daily cap of 3",
         "«{reason} earns nothing: {why}»"
         .format(reason="«review»", why=f"«over the daily cap of {3}»")),
        ("order moved to another customer; pending until 2026-03-15 10:00 UTC; approved comment",
         "«order moved to another customer; {note}»".format(
             note="«pending until {until} UTC; {note}»".format(
                 until="2026-03-15 10:00", note="«approved {reason}»".format(reason="«comment»")))),
    ],
)  # fmt: skip
def test_a_note_is_translated_with_the_notes_and_words_inside_it(text: str, shown: str) -> None:
    assert translate(text, marked) == shown


def test_an_order_note_is_read_from_the_outside_in() -> None:
    text = notes.ORDER_STATE(
        note=notes.AT_TIER(
            note=notes.EARNED_FIXED_CAPPED(
                status="completed", base="25", rate="2", fixed="5", points="55",
                rounding="floor", cap="40",
            ),
            tier="gold",
        ),
        status="completed", modified="2026-03-01T10:00:00Z", refunds="none",
    )  # fmt: skip

    assert translate(text, marked) == (
        "«{note} [status=completed modified=2026-03-01T10:00:00Z refunds=none]»".replace(
            "{note}",
            "«{note} (tier gold)»".replace(
                "{note}",
                "«completed; base 25 × 2 + fixed 5 = 55 (floor), capped at 40»",
            ),
        )
    )


@pytest.mark.parametrize(
    "text",
    ["goodwill gesture after the late delivery", "", "purchase", "order deleted"],
)
def test_a_note_no_template_wrote_is_shown_as_it_is(text: str) -> None:
    assert parse(text) is None
    assert translate(text, marked) == text


def test_a_translation_that_drops_or_renames_a_value_is_not_used() -> None:
    broken = {"expired on {day}": "expiré", "redeemed for coupon {code}": "échangé {coupon}"}

    def gettext(text: str) -> str:
        return broken.get(text, text)

    assert translate("expired on 2026-04-01", gettext) == "expired on 2026-04-01"
    assert translate("redeemed for coupon x1", gettext) == "redeemed for coupon x1"


def test_values_are_shown_as_written_even_when_they_look_like_a_template() -> None:
    note = notes.COUPON_REFUSED(message="order deleted from the store")

    assert translate(note, marked) == "«coupon refused by the store: {message}»".format(
        message="order deleted from the store"
    )


def test_nesting_is_read_to_a_bounded_depth() -> None:
    text = "approved review"
    for _ in range(notes.MAX_DEPTH + 5):
        text = notes.ORDER_MOVED(note=text)

    shown = translate(text, marked)

    assert shown.count("«") == notes.MAX_DEPTH
    assert shown.endswith("approved review" + "»" * notes.MAX_DEPTH)


def test_the_recalculation_prefix_finds_its_notes() -> None:
    note = notes.RECALCULATED(version="v2", note="approved review")

    assert note.startswith(notes.RECALCULATED.prefix(version="v2"))
    assert notes.RECALCULATED.prefix() == "recalculated under rule set "


def test_every_template_is_listed_once() -> None:
    texts = [note.text for note in notes.TEMPLATES]

    assert len(texts) == len(set(texts)) > 40


@pytest.mark.parametrize(
    ("text", "whole"),
    [
        ("order moved to another customer; pending until 2026-03-15 10:00 UTC; approved review",
         True),
        ("completed; base 25 × 2 = 50 (floor) [status=completed modified=X refunds=none]", True),
        ("completed; the gateway said no", False),  # `{status}; {why}`, but no template's why
        ("order moved to another customer; purchase", False),
        ("goodwill gesture", False),
    ],
)  # fmt: skip
def test_a_note_is_fully_written_when_every_note_inside_it_is_a_templates(
    text: str, whole: bool
) -> None:
    assert notes.fully_written(text) is whole


def test_an_orders_state_is_read_before_the_explanation_it_holds() -> None:
    text = "completed; base 25 × 2 = 50 (floor) [status=completed modified=X refunds=none]"

    found = parse(text)

    assert found is not None
    assert found[0] is notes.ORDER_STATE  # not `{status}; {why}` with the rest as its why


def word(context: str, value: str) -> str:
    """A catalog's `pgettext` that marks the words it translated: [[context:value]]."""
    return f"[[{context}:{value}]]"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("completed; base 25 × 2 = 50 (floor)",
         "«{status}; base {base} × {rate} = {points} ({rounding})»".format(
             status="[[status:completed]]", base="25", rate="2", points="50",
             rounding="[[rounding:floor]]")),
        ("order moved to another customer; status hold",
         "«order moved to another customer; {note}»".format(note="«status {status}»".format(
             status="[[status:hold]]"))),
        # A status WooCommerce (or a plugin) added that the catalogs do not know: as written.
        ("status wc-shipped", "«status {status}»".format(status="wc-shipped")),
        # A word only where its name says so: `completed` as a coupon code stays a code.
        ("redeemed for coupon completed", "«redeemed for coupon {code}»".format(code="completed")),
    ],
)  # fmt: skip
def test_statuses_and_rounding_modes_are_words_of_the_catalog(text: str, shown: str) -> None:
    assert translate(text, marked, word) == shown
    # Without the catalog's `pgettext`, words are shown as written.
    assert "[[" not in translate(text, marked)


def test_every_word_is_a_value_some_template_takes() -> None:
    names = {name for note in notes.TEMPLATES for name in note.names}
    assert set(notes.WORDS) <= names
