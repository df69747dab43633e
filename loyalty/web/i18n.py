"""Languages: gettext catalogs through Babel, and locale formatting of numbers, money and dates.

The catalogs are the committed `locale/<lang>/LC_MESSAGES/messages.po` files, compiled in memory on
first use (no build step, so a fresh clone runs as is). The language comes from `?lang=`, else the
browser's Accept-Language, else `[dashboard] default_language`.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime, format_skeleton
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal, format_percent
from babel.support import Translations

LANGUAGES = ("en", "fr", "de", "ar", "id")
LOCALE_DIR = Path(__file__).parent / "locale"


def catalog_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"


@cache
def translations(lang: str) -> Translations:
    """The compiled catalog of `lang` (one of LANGUAGES)."""
    if lang not in LANGUAGES:
        raise ValueError(f"unsupported language {lang!r}: expected one of {', '.join(LANGUAGES)}")
    with catalog_path(lang).open("rb") as po:
        catalog = read_po(po, locale=lang)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain="messages")


def negotiate(query: str | None, accept_language: str | None, default: str) -> str:
    """`?lang=` if supported, else the best Accept-Language match, else `default`."""
    if query and query.split("-")[0].lower() in LANGUAGES:
        return query.split("-")[0].lower()
    wanted = []
    for part in (accept_language or "").split(","):
        tag, _, weight = part.strip().partition(";q=")
        try:
            quality = float(weight) if weight else 1.0
        except ValueError:
            continue
        if tag:
            wanted.append((quality, tag.replace("_", "-")))
    ordered = [tag for _, tag in sorted(wanted, key=lambda w: -w[0])]
    found = Locale.negotiate(ordered, list(LANGUAGES), sep="-") if ordered else None
    return str(found) if found is not None else default


#: The right-to-left, left-to-right and Arabic letter marks, removed from isolated numbers.
_DIRECTION_MARKS = dict.fromkeys(map(ord, "\u200f\u200e\u061c"))


@dataclass(frozen=True)
class Formats:
    """Locale formatting for one language (Babel's CLDR data)."""

    lang: str
    currency: str

    @property
    def locale(self) -> Locale:
        try:
            return Locale.parse(self.lang)
        except UnknownLocaleError:  # pragma: no cover - LANGUAGES are all known to CLDR
            return Locale.parse("en")

    @property
    def rtl(self) -> bool:
        return self.locale.text_direction == "rtl"

    def number(self, value: int | Decimal) -> str:
        return self._isolated(format_decimal(value, locale=self.locale))

    def signed(self, value: int) -> str:
        text = format_decimal(abs(value), locale=self.locale)
        return self._isolated(f"+{text}" if value > 0 else (f"-{text}" if value < 0 else text))

    def money(self, value: Decimal) -> str:
        return self._isolated(format_currency(value, self.currency, locale=self.locale))

    def _isolated(self, text: str) -> str:
        """On right-to-left pages a number keeps its sign on the left: a left-to-right isolate,
        without the direction marks CLDR puts in (Arabic money begins with a right-to-left mark,
        which drew the minus right of the digits, inside the isolate: found by a review)."""
        return f"\u2066{text.translate(_DIRECTION_MARKS)}\u2069" if self.rtl else text

    def percent(self, share: Decimal) -> str:
        return format_percent(share, format="#,##0.0%", locale=self.locale)

    def day(self, value: date | None) -> str:
        return format_date(value, format="medium", locale=self.locale) if value else ""

    def month(self, value: date) -> str:
        """A month and its year, in the locale's own order ("Jan 2024", "janv. 2024")."""
        return format_skeleton("yMMM", value, locale=self.locale)

    def moment(self, value: datetime) -> str:
        return format_datetime(value, format="short", tzinfo=None, locale=self.locale)
