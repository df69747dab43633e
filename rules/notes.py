"""The notes entries carry, and the refusals an admin is shown: each written once here, in English,
and read back in the admin's language.

A ledger entry's note is stored as English text (the audit trail reads the same whatever language
an admin uses, and a ledger written before a template changed stays readable). Every note the
engine writes comes from one of these templates; `translate` finds the template a stored note was
written from, and writes it again from the admin's catalog (`loyalty/web/locale`, where each
template's English text is a message id), with the same values. Values named in `NESTED` are
notes or words of their own and are translated too (an order's explanation inside the order's
note); so are the values in `WORDS`, a WooCommerce status and a rounding mode, with the catalog's
`pgettext` and the value's name as context (`completed` is `terminée` in French). The others
(amounts, dates, codes, emails, a status WooCommerce added later) are shown as written.
A note that matches no template (an admin's own reason, a store's refusal message, a note from an
older version) is shown as it is. The refusals (a redemption the customer cannot afford, an
adjustment the ledger will not take) are written and read back the same way: the CLI prints
their English, the dashboard its own language.

Pure: no I/O, no clock; `translate` takes the catalog's `gettext` and `pgettext`.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

from rules.types import Rounding

#: Values that are notes (or words) of their own, translated in turn.
NESTED = frozenset({"note", "why", "reason"})
#: Values that may hold spaces; every other value is one word (an amount, a date, a status slug,
#: a code, an email), which is what tells `{note} (tier {tier})` from the note it wraps.
FREE = frozenset(
    {"note", "why", "message", "codes", "until", "version", "tier", "known", "error", "name"}
    | {"sources"}
)
#: Values that are words, not data, by name: WooCommerce's order statuses (with the trash and
#: a checkout draft), a review's or comment's status, and the rounding modes.
WORDS: dict[str, frozenset[str]] = {
    "status": frozenset(
        {"pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed"}
        | {"trash", "checkout-draft", "approved", "hold", "spam", "deleted"}
    ),
    "rounding": frozenset(mode.value for mode in Rounding),
}
#: How deep notes nest at most (an order moved, pending, recalculated, under a tier...).
MAX_DEPTH = 8


@dataclass(frozen=True)
class Note:
    """One template: `text` is English with `{named}` values."""

    text: str
    names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        names = tuple(name for _, name, _, _ in string.Formatter().parse(self.text) if name)
        object.__setattr__(self, "names", names)

    def __call__(self, **values: object) -> str:
        return self.text.format(**values)

    def prefix(self, **values: object) -> str:
        """The text up to the first value not given (to find notes by how they start)."""
        written = []
        for literal, name, _, _ in string.Formatter().parse(self.text):
            written.append(literal)
            if name is None:
                break
            if name not in values:
                break
            written.append(str(values[name]))
        return "".join(written)


# -- purchases (rules.purchase, sync.order_points) -------------------------------------------------
PURCHASE_REFUSED = Note("{status}; {why}")
STATUS_DOES_NOT_EARN = Note("status does not earn")
GUEST_ORDERS_DO_NOT_EARN = Note("guest orders do not earn")
GUEST_WITHOUT_EMAIL = Note("guest order without a billing email")
COUPON_USED = Note("coupon used ({codes})")
BELOW_MINIMUM = Note("{status}; base {base} below minimum {minimum}")
EARNED = Note("{status}; base {base} × {rate} = {points} ({rounding})")
EARNED_FIXED = Note("{status}; base {base} × {rate} + fixed {fixed} = {points} ({rounding})")
EARNED_CAPPED = Note("{status}; base {base} × {rate} = {points} ({rounding}), capped at {cap}")
EARNED_FIXED_CAPPED = Note(
    "{status}; base {base} × {rate} + fixed {fixed} = {points} ({rounding}), capped at {cap}"
)
FIRST_ORDER = Note("first earning order")
NO_EARNING_ORDER = Note("no earning order yet")
AT_TIER = Note("{note} (tier {tier})")
ORDER_STATE = Note("{note} [status={status} modified={modified} refunds={refunds}]")
ORDER_DELETED = Note("order deleted from the store")
ORDER_MOVED = Note("order moved to another customer; {note}")
PENDING_UNTIL = Note("pending until {until} UTC; {note}")
NO_LONGER_PENDING = Note("no longer pending; {note}")
RECALCULATED_POINTS = Note("{points} points instead of {decided}")
RECALCULATED = Note("recalculated under rule set {version}: {note}")

# -- reviews and comments (rules.activity) ---------------------------------------------------------
APPROVED = Note("approved {reason}")
EARNS_NOTHING = Note("{reason} earns nothing: {why}")
EARLIER_ON_SAME_ITEM = Note("an earlier {reason} on the same item earns")
OVER_DAILY_CAP = Note("over the daily cap of {cap}")
SOURCE_EARNS_NOTHING = Note("the source earns nothing")
ACTIVITY_STATUS = Note("status {status}")
NOT_ELIGIBLE = Note("not eligible under the rules")
TOO_SHORT = Note("shorter than {length} characters")
REVIEW = Note("review")
COMMENT = Note("comment")

# -- signups and accounts (rules.signup, sync.owners) ----------------------------------------------
SIGNUPS_OFF = Note("signup points are off")
REGISTERED_BEFORE = Note("registered {registered}, before signups earned ({started})")
REGISTERED = Note("registered {registered}")
SIGNUP_EARNED_BEFORE = Note(
    "registered {registered}; {email} earned its signup points with an earlier account"
)
GUEST_REGISTERED = Note("guest {email} registered as an account")
ACCOUNT_DELETED = Note("account {account} deleted in the store; its points went back to {email}")

# -- expiry, debt, redemptions (sync.expiry, rules.debt, ledger.redemptions) -----------------------
EXPIRED = Note("expired on {day}")
EXPIRY_CORRECTED = Note("expiry on {day} corrected: {expired} points expired, not {recorded}")
# Points an expiry on the customer whose balance moved here took too many (a refund dated before
# the expiry, synced after it ran): the balance moved short of them, as debt; given back here.
EXPIRY_GIVEN_BACK_GUEST = Note(
    "{points} points given back: the expiry of {day} on guest {email} took them in excess"
    " before its balance moved here"
)
EXPIRY_GIVEN_BACK_ACCOUNT = Note(
    "{points} points given back: the expiry of {day} on deleted account {account} took them in"
    " excess before its balance moved here"
)
EXPIRY_GIVEN_BACK = Note(
    "{points} points given back: expiries of {day} took them in excess on customers whose"
    " balances moved here"
)
EXPIRY_GIVEN_BACK_CORRECTED = Note(
    "points given back for an expiry of {day} corrected: {given}, not {recorded}"
)
OWED = Note("{points} points owed: revoked after they were spent; taken from future points first")
OWED_AFTER = Note(
    "{points} points owed: revoked after they were spent (after {cause});"
    " taken from future points first"
)
WRITTEN_OFF = Note("{points} points written off: revoked after they were spent")
WRITTEN_OFF_AFTER = Note(
    "{points} points written off: revoked after they were spent (after {cause})"
)
DEBT_PAID = Note("{paid} points paid toward the debt, {left} still owed")
REDEEMED = Note("redeemed for coupon {code}")
COUPON_REFUSED = Note("coupon refused by the store: {message}")
COUPON_EXPIRED = Note("coupon {code} expired unused: points returned")
COUPON_DELETED = Note("coupon {code} deleted in the store: points returned")
COUPON_USED_AFTER_RETURN = Note("coupon {code} used after its points were returned: taken again")

# -- refusals an admin is shown (rules.redemption, sync.redemptions, ledger.admin, loyalty) --------
REFUSED_TIER_OR_POINTS = Note("ask for either a tier or a number of points")
REFUSED_OWES_ONE = Note(
    "the customer owes 1 point (points revoked after they were spent):"
    " no redemption until the debt is paid back from new points"
)
REFUSED_OWES = Note(
    "the customer owes {owed} points (points revoked after they were spent):"
    " no redemption until the debt is paid back from new points"
)
REFUSED_UNKNOWN_TIER = Note("unknown tier {name} (tiers: {known})")
REFUSED_NO_TIERS = Note("unknown tier {name} (tiers: none are configured)")
REFUSED_TIER_SHORT_ONE = Note(
    "the {tier} tier needs {points} points, the balance is {balance}: 1 point missing"
)
REFUSED_TIER_SHORT = Note(
    "the {tier} tier needs {points} points, the balance is {balance}: {missing} points missing"
)
REFUSED_NO_RATE = Note("redeeming a number of points needs points_per_unit; ask for a tier")
REFUSED_NOT_WHOLE = Note("points must be a positive whole number, got {points}")
REFUSED_AT_LEAST = Note("at least {lowest} points can be redeemed, asked for {points}")
REFUSED_AT_MOST = Note("at most {most} points can be redeemed, asked for {points}")
REFUSED_STEP = Note("points are redeemed in steps of {step}, asked for {points}")
REFUSED_WORTHLESS = Note("{points} points are worth less than {cent}")
REFUSED_SHORT_ONE = Note("{points} points asked for, the balance is {balance}: 1 point missing")
REFUSED_SHORT = Note(
    "{points} points asked for, the balance is {balance}: {missing} points missing"
)
REFUSED_EXPIRED = Note("{note} ({expired} points expired, which the day's expiry run records)")
REFUSED_NO_LEDGER_CUSTOMER = Note(
    "the ledger has no customer {customer}: nothing earned, nothing to spend"
)
REFUSED_NO_STORE_CUSTOMER = Note("the store has no customer {customer}")
REFUSED_NO_STORE_EMAIL = Note("customer {customer} has no email in the store to restrict it to")
ADJUST_DELETED = Note(
    "customer {customer} was deleted in the store; its points went to the guest held by {email}"
)
ADJUST_DELETED_NO_EMAIL = Note(
    "customer {customer} was deleted in the store; its points went to the guest held by its email"
)
ADJUST_REQUEST_USED = Note("request id {request} was already used for another one")
ADJUST_NOT_ZERO = Note("points must be a non-zero integer, got {points}")
ADJUST_WITHIN = Note("points must be within ±{limit} (what the ledger holds), got {points}")
ADJUST_NO_REASON = Note("reason is required: say why the points are adjusted")
ADJUST_CONTROL = Note("reason holds a control character (NUL, …): write plain text")
ADJUST_UNASKED = Note(
    "customer {customer} is not in the ledger yet, and the store could not be asked whether it"
    " has that account ({error}); nothing was adjusted: try again when the store answers"
)
ADJUST_UNKNOWN_ACCOUNT = Note(
    "customer {customer} is neither in the ledger nor in the store (it has no account with that"
    " id); nothing was adjusted: check the customer id"
)
# Why a sync did not do everything (its exit status, the dashboard's resync answer): the store's
# error inside stays as the store's client wrote it.
LISTING_STOPPED = Note(
    "{endpoint} listing stopped: {error}; everything up to the last good page is kept"
)
SOURCES_STOPPED = Note("stopped: {sources}")
BALANCES_NOT_WRITTEN = Note(
    "{count} customer balance(s) could not be written to the store; they are kept and retried on"
    " the next run"
)
BALANCE_BEYOND = Note(
    "the points of ledger customer {customer} would go beyond what the ledger holds (at most"
    " {limit} either way, in balance and lifetime); nothing was written"
)


def missing_points(one: Note, many: Note, missing: int, **values: object) -> str:
    """A refusal that counts the points missing, in the singular when it is one."""
    return one(**values) if missing == 1 else many(missing=missing, **values)


#: Every template, for `translate` and for the catalogs' test.
TEMPLATES: tuple[Note, ...] = tuple(v for v in dict(globals()).values() if isinstance(v, Note))


@cache
def _patterns() -> tuple[tuple[re.Pattern[str], Note], ...]:
    """Each template as a pattern, the most literal text first (so `status does not earn` is
    tried before `status {status}`, and an order's state before the explanation inside it)."""
    found = []
    for note in TEMPLATES:
        pattern, literal = [], 0
        for text, name, _, _ in string.Formatter().parse(note.text):
            pattern.append(re.escape(text))
            literal += len(text)
            if name:
                pattern.append(f"(?P<{name}>.+?)" if name in FREE else rf"(?P<{name}>\S+?)")
        found.append((literal, re.compile("".join(pattern), re.DOTALL), note))
    found.sort(key=lambda item: -item[0])
    return tuple((pattern, note) for _, pattern, note in found)


def parse(text: str) -> tuple[Note, dict[str, str]] | None:
    """The template `text` was written from, and its values; None when it is no template's.

    Where several templates take the text, the first whose nested values (`NESTED`) are notes
    too is the one: `{status}; {why}` would also take an order's whole explanation."""
    found = _read(text, 0)
    return None if found is None else (found[0], found[1])


def fully_written(text: str) -> bool:
    """Whether `text` and every note inside it were written from templates (so all of it can be
    shown in another language)."""
    found = _read(text, 0)
    return found is not None and found[2]


def _read(text: str, depth: int) -> tuple[Note, dict[str, str], bool] | None:
    if depth >= MAX_DEPTH:
        return None
    first: tuple[Note, dict[str, str], bool] | None = None
    for pattern, note in _patterns():
        match = pattern.fullmatch(text)
        if match is None:
            continue
        values = match.groupdict()
        nested = [_read(values[name], depth + 1) for name in note.names if name in NESTED]
        if all(inner is not None and inner[2] for inner in nested):
            return note, values, True
        first = first or (note, values, False)
    return first


def translate(
    text: str,
    gettext: Callable[[str], str],
    pgettext: Callable[[str, str], object] | None = None,
    *,
    depth: int = 0,
) -> str:
    """`text` written again from the catalog of `gettext`, values kept (and nested notes
    translated, and the `WORDS` too where `pgettext` is given); as it is when no template wrote
    it, or when the catalog's text does not take the same values (a broken translation never
    hides a note)."""
    found = _read(text, depth)
    if found is None:
        return text
    note, values, _ = found
    shown = {name: _shown(name, value, gettext, pgettext, depth) for name, value in values.items()}
    translated = gettext(note.text)
    if sorted(Note(translated).names) != sorted(note.names):
        return note.text.format(**shown)
    return translated.format(**shown)


def _shown(
    name: str,
    value: str,
    gettext: Callable[[str], str],
    pgettext: Callable[[str, str], object] | None,
    depth: int,
) -> str:
    if name in NESTED:
        return translate(value, gettext, pgettext, depth=depth + 1)
    if pgettext is not None and value in WORDS.get(name, ()):
        return str(pgettext(name, value))  # Babel's catalogs say `object`
    return value
