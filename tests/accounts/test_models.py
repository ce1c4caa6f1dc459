"""The ledger's models: account numbers, currencies, internal accounts, immutable postings."""

from decimal import Decimal
from importlib import import_module

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from accounts import currencies, internal, numbers
from accounts.models import Account, InternalCode, Journal, LedgerImmutableError, Posting
from core.context import system_scope, tenant_context
from tests.accounts.factories import AccountFactory, funded_account
from tests.conftest import postgres_only
from tests.factories import TenantFactory

# --- account numbers --------------------------------------------------------------------------


def single_digit_changes(number):
    for position, digit in enumerate(number):
        for other in "0123456789":
            if other != digit:
                yield number[:position] + other + number[position + 1 :]


def adjacent_swaps(number):
    for position in range(len(number) - 1):
        a, b = number[position], number[position + 1]
        if a != b:
            yield number[:position] + b + a + number[position + 2 :]


def test_generated_numbers_catch_every_single_digit_error_and_adjacent_swap(tenant):
    with tenant_context(tenant):
        generated = numbers.take_account_numbers(tenant.pk, 40)
    assert len(set(generated)) == 40
    checked = 0
    for number in generated:
        assert numbers.is_valid(number), number
        for wrong in [*single_digit_changes(number), *adjacent_swaps(number)]:
            assert not numbers.is_valid(wrong), f"{wrong} (from {number}) passed the check"
            checked += 1
    assert checked > 40 * 12 * 9


def test_an_opened_account_has_a_valid_number_unique_in_its_tenant(tenant):
    first, second = AccountFactory(tenant=tenant), AccountFactory(tenant=tenant)
    assert numbers.is_valid(first.account_number)
    assert first.account_number != second.account_number
    assert not numbers.is_valid("12345678901x")


# --- currencies -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "places", "text"),
    [("EUR", 2, "250.50"), ("JPY", 0, "250"), ("BHD", 3, "250.500")],
)
def test_minor_units_come_from_the_currency(code, places, text):
    assert currencies.minor_unit(code) == places
    assert currencies.format_amount(Decimal("250.5"), code) == text


@pytest.mark.parametrize("code", ["EUR", "USD", "JPY", "CHF"])
def test_current_currencies_are_valid(code):
    currencies.validate_currency(code)


@pytest.mark.parametrize("code", ["DEM", "XAU", "eur", "EURO", "ZZZ", ""])
def test_historical_unknown_or_malformed_codes_are_refused(code):
    with pytest.raises(ValidationError):
        currencies.validate_currency(code)


@pytest.mark.parametrize(
    ("value", "code"),
    [("0", "EUR"), ("-1", "EUR"), ("1.001", "EUR"), ("1.5", "JPY"), (1.5, "EUR"), ("abc", "EUR")],
)
def test_bad_amounts_are_refused_naming_the_amount(value, code):
    with pytest.raises(ValidationError) as error:
        currencies.parse_amount(value, code)
    assert "amount" in error.value.message_dict


def test_amounts_are_quantized_to_the_minor_unit():
    assert currencies.parse_amount("10.5", "EUR") == Decimal("10.50")
    assert str(currencies.parse_amount("10.5", "EUR")) == "10.50"
    assert str(currencies.parse_amount("7", "JPY")) == "7"


# --- internal accounts ------------------------------------------------------------------------


def internal_accounts(tenant):
    with tenant_context(tenant):
        return dict(
            Account.objects.exclude(internal_code="").values_list("internal_code", "reference")
        )


def test_a_new_tenant_gets_every_internal_account_in_its_currency(db):
    bank = TenantFactory(slug="krona", default_currency="SEK")
    accounts = internal_accounts(bank)
    assert set(accounts) == set(InternalCode.values)
    assert accounts["settlement"] == "SETTLEMENT-SEK"
    assert accounts["loan_portfolio"] == "LOAN-PORTFOLIO-SEK"
    with tenant_context(bank):
        assert all(
            a.balance == 0
            and numbers.is_valid(a.account_number)
            and a.account_number.startswith("9")
            for a in Account.objects.select_related("ledger_balance")
        )
        created = Account.history.values_list("action", "actor")
        assert list(created) == [("create", "system")] * 7


def test_internal_accounts_of_another_currency_are_created_on_first_use(tenant):
    with tenant_context(tenant):
        usd = internal.internal_account(code="fee_income", currency="USD")
        assert usd.reference == "FEE-INCOME-USD" and usd.internal_code == "fee_income"
        assert internal.internal_account(code="fee_income", currency="USD").pk == usd.pk
        with pytest.raises(ValueError):
            internal.internal_account(code="petty_cash", currency="USD")


def test_the_data_migration_gives_existing_tenants_their_internal_accounts(db):
    name = "0003_internal_accounts_of_existing_tenants"
    migration = import_module(f"accounts.migrations.{name}")
    state = MigrationExecutor(connection).loader.project_state([("accounts", name)])
    bank = TenantFactory(slug="older")
    with system_scope():
        Account.all_objects.filter(tenant=bank, internal_code="settlement").update(
            internal_code="suspense", currency="USD", reference="X-USD", account_number="1"
        )
        migration.create(state.apps, None)
        settlement = Account.objects.get(tenant=bank, internal_code="settlement")
        history = settlement.history.get()
        assert settlement.ledger_balance.balance == 0
    assert settlement.reference == "SETTLEMENT-EUR"
    assert numbers.is_valid(settlement.account_number)
    assert (history.action, history.actor) == ("create", "system:migrate")


# --- immutability -----------------------------------------------------------------------------


@pytest.fixture
def posting(tenant):
    account = funded_account(tenant, "50.00")
    with tenant_context(tenant):
        return Posting.objects.filter(account=account).get()


def test_a_posting_refuses_every_change_in_python(tenant, posting):
    with tenant_context(tenant):
        posting.amount = Decimal("1000")
        with pytest.raises(LedgerImmutableError):
            posting.save()
        with pytest.raises(LedgerImmutableError):
            posting.delete()
        with pytest.raises(LedgerImmutableError):
            Posting.objects.filter(pk=posting.pk).update(amount=Decimal("1000"))
        with pytest.raises(LedgerImmutableError):
            Posting.objects.filter(pk=posting.pk).delete()
        with pytest.raises(LedgerImmutableError):
            Posting.objects.bulk_update([posting], ["amount"])
        with pytest.raises(LedgerImmutableError):
            Journal.objects.filter(pk=posting.journal_id).update(description="edited")
        assert Posting.objects.get(pk=posting.pk).amount == Decimal("50.00")


@postgres_only
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE accounts_posting SET amount = 1000 WHERE id = %s",
        "DELETE FROM accounts_posting WHERE id = %s",
        "UPDATE accounts_journal SET description = 'edited' "
        "WHERE id = (SELECT journal_id FROM accounts_posting WHERE id = %s)",
        "DELETE FROM accounts_journal "
        "WHERE id = (SELECT journal_id FROM accounts_posting WHERE id = %s)",
    ],
)
def test_postgresql_refuses_changing_the_ledger_in_raw_sql(app_role, tenant, posting, statement):
    with tenant_context(tenant):
        with (
            pytest.raises(DatabaseError, match="ledger rows are immutable"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement, [posting.pk])
        assert Posting.objects.get(pk=posting.pk).amount == Decimal("50.00")
        assert Journal.objects.filter(pk=posting.journal_id).exists()
