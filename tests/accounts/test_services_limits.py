"""A movement that would take a balance beyond its column is refused by a rule (422), never a
database error: on PostgreSQL numeric(20, 4) overflows past 16 digits before the point."""

from decimal import Decimal

import pytest

from accounts import rules, selectors, services
from accounts.models import AccountBalance
from accounts.rules import BALANCE_LIMIT
from core.errors import RuleViolation
from tests.accounts.factories import funded_account

# Exact in 15 significant digits too, as SQLite reads decimals back.
NEAR_LIMIT = BALANCE_LIMIT - Decimal("10.00")


def _set_balance(account, balance):
    AccountBalance.objects.filter(account=account).update(balance=balance)


def test_a_customer_balance_never_passes_what_the_ledger_holds(in_tenant):
    account = funded_account(in_tenant, "100.00")
    _set_balance(account, NEAR_LIMIT)
    with pytest.raises(RuleViolation, match=r"^20\.00 EUR would take the balance of ACC-"):
        services.deposit(account=account, amount="20.00")
    assert selectors.get_account(account.reference).balance == NEAR_LIMIT
    rules.check_balance_fits(account, balance=BALANCE_LIMIT - Decimal("0.01"), amount=1)


def test_an_internal_balance_never_passes_what_the_ledger_holds(in_tenant):
    account = funded_account(in_tenant, "100.00")
    _set_balance(selectors.get_account("SETTLEMENT-EUR"), -NEAR_LIMIT)
    with pytest.raises(RuleViolation, match="balance of SETTLEMENT-EUR"):
        services.deposit(account=account, amount="20.00")
    assert selectors.get_account(account.reference).balance == Decimal("100.00")
