"""The demo ledger (accounts/fixtures/demo.json): loaded with the rest of the demo, consistent
(reconcile_ledger passes), usable afterwards, and exactly what its generator writes."""

from collections import defaultdict
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Sum

from accounts import services
from accounts.internal import internal_reference
from accounts.models import Account, AccountBalance, Hold, InternalCode, Journal, Posting
from accounts.numbers import is_valid
from core.context import system_scope, tenant_context
from core.models import Tenant
from customers.models import Customer

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(db):
    call_command("loaddata", "demo", verbosity=0)
    with system_scope():
        return {tenant.slug: tenant for tenant in Tenant.objects.all()}


def test_both_banks_have_accounts_with_months_of_postings(demo):
    for slug, currency in (("harbour", "EUR"), ("northwind", "GBP")):
        with tenant_context(demo[slug]):
            customer_accounts = Account.objects.customer_accounts()
            assert customer_accounts.count() >= 4
            assert set(customer_accounts.values_list("currency", flat=True)) == {currency}
            first, last = (
                Posting.objects.order_by(order).values_list("value_date", flat=True).first()
                for order in ("value_date", "-value_date")
            )
            assert (last - first).days > 90
            assert {code: internal_reference(code, currency) for code in InternalCode.values} == {
                account.internal_code: account.reference
                for account in Account.objects.exclude(internal_code="")
            }
            assert all(
                is_valid(n) for n in Account.objects.values_list("account_number", flat=True)
            )
            assert Journal.objects.filter(kind="reversal", reversal_of__isnull=False).count() == 1
            assert Hold.objects.active().count() == 1


def test_reloading_adds_no_rows(demo):
    with system_scope():
        before = [model.objects.count() for model in (Account, Journal, Posting, Hold)]
    call_command("loaddata", "demo", verbosity=0)
    with system_scope():
        assert [model.objects.count() for model in (Account, Journal, Posting, Hold)] == before


def test_reconcile_ledger_passes_on_the_demo(demo):
    out = StringIO()
    call_command("reconcile_ledger", stdout=out, stderr=StringIO())
    assert "mismatch" not in out.getvalue().lower()


def test_the_demo_banks_keep_working_after_loading(demo):
    """Staff carry on where the demo stops: new references and account numbers follow the
    fixture's, and money moves through the services on the loaded balances."""
    with tenant_context(demo["harbour"]):
        jane = Customer.objects.get(reference="CUS-000001")
        opened = services.open_account(customer=jane, product="savings", currency="EUR")
        assert opened.reference == "ACC-000009"
        assert is_valid(opened.account_number)
        janes = Account.objects.get(reference="ACC-000001")
        before = janes.ledger_balance.balance
        services.transfer(from_account=janes, to_account=opened, amount=Decimal("100"))
        posting = services.deposit(account=janes, amount=Decimal("1.00"))
        assert posting.balance_after == before - 100 + 1
    call_command("reconcile_ledger", stdout=StringIO(), stderr=StringIO())


def test_the_demo_ledger_is_consistent(demo):
    """What reconcile_ledger proves, checked here directly as well: each balance row is the
    sum of its postings, each posting's balance_after runs on, each journal sums to zero."""
    with system_scope():
        sums = dict(
            Posting.objects.values("account")
            .annotate(total=Sum("amount"))
            .values_list("account", "total")
        )
        for row in AccountBalance.objects.all():
            assert row.balance == sums.get(row.account_id, Decimal(0)), row.account_id
        running = defaultdict(Decimal)
        for posting in Posting.objects.order_by("posted_at", "id"):
            running[posting.account_id] += posting.amount
            assert posting.balance_after == running[posting.account_id], posting.pk
        journals = defaultdict(Decimal)
        for journal_id, amount in Posting.objects.values_list("journal", "amount"):
            journals[journal_id] += amount
        assert journals and not [j for j, total in journals.items() if total != 0]
        held = Hold.objects.active().values("account").annotate(total=Sum("amount"))
        assert {row["account"]: row["total"] for row in held} == dict(
            AccountBalance.objects.exclude(held=0).values_list("account", "held")
        )
        for account in Account.objects.customer_accounts().with_balances():
            assert account.available_balance >= 0, account.reference


def test_the_committed_fixture_is_what_the_generator_writes():
    call_command("demo_ledger", check=True, verbosity=0)
