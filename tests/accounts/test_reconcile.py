"""`manage.py reconcile_ledger` proves balances and journals, and names every mismatch."""

import io
from contextlib import contextmanager
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from psycopg import sql

from accounts import services
from accounts.internal import internal_account
from accounts.management.commands import reconcile_ledger
from accounts.models import Posting
from core.context import tenant_context
from tests.accounts.factories import AccountFactory, funded_account


@contextmanager
def as_table_owner(*tables):
    """A cursor that writes ledger rows directly, as someone owning the tables would: on
    PostgreSQL the session leaves the app role (RESET ROLE: the superuser that opened it, to
    whom row-level security does not apply) and the immutability triggers are disabled."""
    app_role = connection.settings_dict["OPTIONS"].get("assume_role")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("RESET ROLE")
            # Deferred foreign-key checks pending in the test's transaction block ALTER TABLE.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for table in tables:
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        try:
            yield cursor
        finally:
            if connection.vendor == "postgresql":
                for table in tables:
                    cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
                if app_role:
                    cursor.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(app_role)))


def reconcile(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("reconcile_ledger", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def ledger(tenant, other_tenant, monkeypatch):
    """Movements of every kind in two tenants, reconciled in batches of two ids (so that
    several batches run)."""
    monkeypatch.setattr(reconcile_ledger, "BATCH", 2)
    accounts = {}
    for bank in (tenant, other_tenant):
        a, b = funded_account(bank, "100.00"), AccountFactory(tenant=bank)
        with tenant_context(bank):
            journal = services.transfer(from_account=a, to_account=b, amount="30.00")
            services.withdraw(account=a, amount="5.00")
            services.reverse_journal(journal=journal)
        accounts[bank.slug] = (a, b, journal)
    return accounts


def test_a_sound_ledger_reconciles(ledger):
    out, err = reconcile()
    assert "harbour: balanced" in out and "northwind: balanced" in out
    assert "harbour balances: " in err and "journals: " in err  # the progress lines
    out, _ = reconcile("--tenant", "northwind")
    assert "harbour" not in out and "northwind: balanced" in out


def test_a_journal_of_three_lines_whose_floats_do_not_cancel_reconciles(tenant):
    # 0.10 + 0.20 - 0.30 is not 0 in binary floating point, which SQLite sums in.
    with tenant_context(tenant):
        a, b = AccountFactory(tenant=tenant), AccountFactory(tenant=tenant)
        portfolio = internal_account(code="loan_portfolio", currency=a.currency)
        services.post_journal(
            kind="loan_repayment",
            lines=[
                services.Line(a, Decimal("0.10")),
                services.Line(b, Decimal("0.20")),
                services.Line(portfolio, Decimal("-0.30")),
            ],
        )
    out, _ = reconcile("--tenant", tenant.slug)
    assert f"{tenant.slug}: balanced" in out


def test_an_unknown_tenant_is_an_error(db):
    with pytest.raises(CommandError, match="No tenant with slug 'nowhere'"):
        reconcile("--tenant", "nowhere")


def test_a_tampered_balance_is_named(ledger):
    a, _, _ = ledger["harbour"]
    with as_table_owner() as cursor:
        cursor.execute(
            "UPDATE accounts_accountbalance SET balance = balance + 1 WHERE account_id = %s",
            [a.pk],
        )
    with pytest.raises(CommandError) as error:
        reconcile()
    message = str(error.value)
    assert "1 mismatch(es)" in message
    assert (
        f"harbour: account {a.reference} has a balance of 96.00 but its postings sum to 95.00"
        in message
    )


def test_an_unbalanced_journal_is_named(ledger):
    _, b, journal = ledger["northwind"]
    with tenant_context(b.tenant):
        credit = Posting.objects.get(journal=journal, account=b)
    with as_table_owner("accounts_posting") as cursor:
        cursor.execute("UPDATE accounts_posting SET amount = 31 WHERE id = %s", [credit.pk])
    with pytest.raises(CommandError) as error:
        reconcile()
    message = str(error.value)
    assert f"northwind: journal {journal.public_id} sums to 1.00 EUR, not zero" in message
    assert (
        f"northwind: account {b.reference} has a balance of 0.00 but its postings sum to 1.00"
        in message
    )
    assert "harbour" not in message
