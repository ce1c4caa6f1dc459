"""The ledger's reads: a fixed number of queries whatever the page, and the filters."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts import selectors, services
from core.errors import NotFound
from tests.accounts.factories import AccountFactory, funded_account


@pytest.fixture
def listed(in_tenant, monkeypatch):
    """Five accounts, each with a hold; on one the hold has expired (no job ran)."""
    accounts = [funded_account(in_tenant, "100.00") for _ in range(5)]
    now = timezone.now()
    for account in accounts:
        expiry = now + timedelta(minutes=5 if account is accounts[0] else 60)
        services.place_hold(account=account, amount="10.00", reason="card", expires_at=expiry)
    later = now + timedelta(minutes=10)
    monkeypatch.setattr(timezone, "now", lambda: later)
    return accounts


def test_an_account_list_costs_one_query_with_available_balances(
    in_tenant, listed, django_assert_num_queries
):
    services.freeze_account(account=listed[1])
    with django_assert_num_queries(1):
        rows = list(selectors.accounts())
        available = {a.pk: a.available_balance for a in rows}
        customers = {a.customer.reference for a in rows}
    assert len(rows) == 5 and len(customers) == 5
    assert available[listed[2].pk] == Decimal("90.00")
    assert available[listed[0].pk] == Decimal("100.00")  # its hold expired: summed in SQL
    with django_assert_num_queries(1):
        assert [a.pk for a in selectors.accounts(status="frozen")] == [listed[1].pk]
    assert not selectors.accounts(currency="USD").exists()
    assert selectors.accounts(customer=listed[3].customer).get().pk == listed[3].pk


def test_internal_accounts_are_not_listed_but_can_be_read(in_tenant, listed):
    assert all(not a.internal_code for a in selectors.accounts())
    settlement = selectors.get_account("SETTLEMENT-EUR")
    assert settlement.balance == Decimal("-500.00")
    with pytest.raises(NotFound):
        selectors.get_account("ACC-999999")


def test_a_customer_account_selector_never_finds_an_internal_one(in_tenant, listed):
    assert selectors.get_customer_account(listed[0].reference).pk == listed[0].pk
    with pytest.raises(NotFound):
        selectors.get_customer_account("SETTLEMENT-EUR")
    with pytest.raises(NotFound):
        selectors.customer_account_as_of("SETTLEMENT-EUR", timezone.now())


def test_accounts_by_reference_finds_a_transfers_sides_and_refuses_more(in_tenant, listed):
    first, second = (account.reference for account in listed[:2])
    found = selectors.customer_accounts_by_reference(first, second)
    assert {a.reference for a in found} == {first, second}
    assert [a.reference for a in selectors.customer_accounts_by_reference(first)] == [first]
    assert selectors.customer_accounts_by_reference(first, "ACC-999999")[0].reference == first
    assert selectors.customer_accounts_by_reference() == []
    with pytest.raises(TypeError):  # a third would be dropped without a word
        selectors.customer_accounts_by_reference(first, second, listed[2].reference)


def test_a_reference_holding_a_nul_is_not_found_not_a_database_error(in_tenant, listed):
    """PostgreSQL refuses to compare text holding a NUL; the selectors refuse it first."""
    reference = listed[0].reference + "\x00"
    for read in (
        lambda: selectors.get_account(reference),
        lambda: selectors.get_customer_account(reference),
        lambda: selectors.customer_account_as_of(reference, timezone.now()),
    ):
        with pytest.raises(NotFound):
            read()


def test_a_statement_is_newest_first_and_filtered_by_day(in_tenant, django_assert_num_queries):
    account = funded_account(in_tenant, "10.00")
    other = AccountFactory(tenant=in_tenant)
    for amount in ("1.00", "2.00", "3.00"):
        services.transfer(from_account=account, to_account=other, amount=amount)
    with django_assert_num_queries(1):
        page = list(selectors.statement(account)[:3])
    assert [p.balance_after for p in page] == [Decimal("4.00"), Decimal("7.00"), Decimal("9.00")]
    today = timezone.localdate()
    assert selectors.statement(account, since=today, until=today).count() == 4
    assert not selectors.statement(account, since=today + timedelta(days=1)).exists()
    assert not selectors.statement(account, until=today - timedelta(days=1)).exists()


def test_holds_journals_by_public_id(in_tenant, listed):
    account = listed[0]
    (expired,) = selectors.holds_of(account, "expired")
    assert not selectors.holds_of(account, "active").exists()
    assert selectors.get_hold(account, str(expired.public_id)).pk == expired.pk
    for wrong in ("not-a-uuid", listed[1].holds.get().public_id):
        with pytest.raises(NotFound):
            selectors.get_hold(account, wrong)
    journal = services.deposit(account=account, amount="1.00").journal
    assert selectors.get_journal(journal.public_id).pk == journal.pk
    with pytest.raises(NotFound):
        selectors.get_journal("nope")
