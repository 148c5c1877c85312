"""国外からのメール送信制限 at MAIL FROM, with the real country lookup code on a test
.mmdb: refused from abroad, allowed from Japan, from local networks and while lifted,
refused again when the week is over; mail from outside is never restricted."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from sekisho.milter.actions import Continue, Reject
from sekisho.milter.transaction import ABROAD_REFUSED, MailTransaction, SubmissionRules
from sekisho.rules.abroad import UNLOCK_PERIOD
from sekisho.scanners.countries import MaxMindCountries, RegistryCountries
from sekisho.store import accounts
from sekisho.store.abroad import set_unlocked_until
from sekisho.store.db import Store
from sekisho.store.models import utcnow
from sekisho.store.policies import PolicyCache
from tests.countrydb import ABROAD_CLIENT, JAPAN_CLIENT, write_country_db
from tests.scanning import transaction_on

Factory = Callable[..., MailTransaction]


@pytest.fixture
def transaction(store: Store, example_domain: str, tmp_path: Path) -> Factory:
    with store.transaction() as session:
        accounts.add_account(session, "taro@example.jp", "secret123")
    cache = PolicyCache(store, 0.0)
    countries = MaxMindCountries(str(write_country_db(tmp_path / "countries.mmdb")))

    def build(
        client: str, submitter: str = "taro@example.jp", local: bool = False
    ) -> MailTransaction:
        transaction = transaction_on(
            store,
            cache.get,
            tmp_path / "mail",
            submission_rules=SubmissionRules(countries, "JP", local_is_domestic=local),
        )
        transaction.sender = "taro@example.jp"
        transaction.submitter = submitter
        transaction.client_address = client
        return transaction

    return build


def lift(store: Store, until_from_now: timedelta) -> None:
    with store.transaction() as session:
        taro = accounts.require_account(session, "taro@example.jp").id
        set_unlocked_until(session, taro, utcnow() + until_from_now)


def test_abroad_is_refused_and_japan_is_not(transaction: Factory) -> None:
    refused = transaction(ABROAD_CLIENT).check_submission()
    assert refused == ABROAD_REFUSED
    assert isinstance(refused, Reject)
    assert (refused.code, refused.xcode) == ("550", "5.7.1")
    assert "lift the restriction" in refused.text
    assert transaction(JAPAN_CLIENT).check_submission() == Continue()
    assert transaction("192.0.2.50").check_submission() == ABROAD_REFUSED  # unknown: abroad


def test_mail_from_outside_and_local_networks_are_never_restricted(transaction: Factory) -> None:
    assert transaction(ABROAD_CLIENT, submitter="").check_submission() == Continue()
    assert transaction("10.1.2.3", local=True).check_submission() == Continue()
    assert transaction("", local=True).check_submission() == Continue()  # a local socket
    assert transaction("10.1.2.3", local=False).check_submission() == ABROAD_REFUSED


def test_lifting_lasts_a_week_and_then_ends_by_itself(transaction: Factory, store: Store) -> None:
    lift(store, UNLOCK_PERIOD)
    assert transaction(ABROAD_CLIENT).check_submission() == Continue()
    later = utcnow() + UNLOCK_PERIOD + timedelta(minutes=1)
    assert transaction(ABROAD_CLIENT).check_submission(now=later) == ABROAD_REFUSED


def test_the_offline_registry_table_places_well_known_addresses() -> None:
    registry = RegistryCountries()
    assert registry.country("133.242.0.1") == "JP"  # a Japanese ISP's block
    assert registry.country("8.8.8.8") == "US"
    assert registry.country("127.0.0.1") is None
