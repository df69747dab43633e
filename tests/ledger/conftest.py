"""Fixtures for the ledger tests: a store and a few customers inside the rolled-back `session`."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from ledger.customers import account_customer, get_or_create_store, guest_customer
from ledger.models import Customer, Store


@pytest.fixture
def store(session: Session) -> Store:
    return get_or_create_store(session, "https://shop.example.com")


@pytest.fixture
def alice(session: Session, store: Store) -> Customer:
    return account_customer(session, store.id, 7, "alice@example.com")


@pytest.fixture
def bob(session: Session, store: Store) -> Customer:
    return account_customer(session, store.id, 8, "bob@example.com")


@pytest.fixture
def guest(session: Session, store: Store) -> Customer:
    return guest_customer(session, store.id, "guest@example.com")
