"""Refusals whose values hold spaces are still read back from their templates, so the dashboard
says them in its language (found by a review, 4 Dec: `{name}` and a two-word `{email}` were read
as one word, matched no template and stayed in English)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from ledger.admin import InvalidAdjustment, adjust
from ledger.customers import account_customer
from ledger.models import Store
from loyalty.web.i18n import translations
from rules import notes
from rules.redemption import RedemptionRules, RedemptionTier, Refusal, quote_redemption
from tests.ledger.factories import NOW

FRENCH = translations("fr").gettext


def test_an_unknown_tier_typed_with_a_space_is_refused_in_the_pages_language() -> None:
    """The dashboard's tier field is free text (tiers such as "Gold Plus" are allowed)."""
    rules = RedemptionRules(tiers=(RedemptionTier("Gold Plus", 500, Decimal("5.00")),))
    refusal = quote_redemption(rules, available=1000, tier="Gold plus", points=None)
    assert isinstance(refusal, Refusal)
    assert refusal.reason == "unknown tier 'Gold plus' (tiers: Gold Plus)"

    assert notes.translate(refusal.reason, FRENCH) != refusal.reason
    assert notes.parse(refusal.reason) is not None


def test_an_adjustment_of_a_deleted_account_without_email_is_refused_in_the_pages_language(
    session: Session, store: Store
) -> None:
    """An account first known by an adjustment has no email; deleted in the store since, the
    refusal names "its email" (two words where {email} takes one)."""
    customer = account_customer(session, store.id, 42, None)
    customer.deleted_at = NOW
    session.flush()
    with pytest.raises(InvalidAdjustment) as refused:
        adjust(session, store.id, 42, 10, "goodwill", now=NOW)
    message = str(refused.value)
    assert message.endswith("held by its email")

    assert notes.translate(message, FRENCH) != message
