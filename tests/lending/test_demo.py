"""The demo loan books (lending/fixtures/demo.json, written by `manage.py demo_ledger` with the
ledger they post to): every status in both banks, one loan in arrears, the ledger consistent
with the loans, and usable afterwards."""

import datetime
from collections import Counter
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.db.models import Sum

from accounts.models import Account, Journal, Posting
from core.context import system_scope, tenant_context
from core.models import Tenant
from lending import services
from lending.close_of_day import run_close_of_day
from lending.demo import END
from lending.models import Collateral, Installment, Loan, LoanProduct, PenaltyCharge, Repayment
from tests.factories import StaffMembershipFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(db):
    call_command("loaddata", "demo", verbosity=0)
    with system_scope():
        return {tenant.slug: tenant for tenant in Tenant.objects.all()}


@pytest.mark.parametrize("slug", ["harbour", "northwind"])
def test_every_status_in_both_banks_and_one_loan_in_arrears(demo, slug):
    with tenant_context(demo[slug]):
        assert LoanProduct.objects.count() == 2
        statuses = Counter(Loan.objects.values_list("status", flat=True))
        assert set(statuses) == set(Loan.Status.values)
        late = Loan.objects.filter(status="active", days_past_due__gt=0).get()
        overdue = late.installments.filter(status="overdue")
        assert overdue.exists() and (late.days_past_due > 20)
        assert Installment.objects.filter(loan__status="active", status="paid").exists()
        assert Collateral.objects.exists()
        for loan in Loan.objects.exclude(approved_by=""):
            assert loan.approved_by != loan.submitted_by, loan.reference  # four-eyes


def test_penalties_are_charged_once_per_installment_and_day(demo):
    with tenant_context(demo["harbour"]):
        late = Loan.objects.get(reference="LN-000002")
        charged = PenaltyCharge.objects.filter(installment__loan=late)
        assert charged.count() == late.installments.filter(status="overdue").count() == 2
        assert sum(i.penalties for i in late.installments.all()) == Decimal("50")


@pytest.mark.parametrize(("slug", "currency"), [("harbour", "EUR"), ("northwind", "GBP")])
def test_the_loan_portfolio_account_is_what_active_loans_owe(demo, slug, currency):
    """Disbursements, repayments and write-offs are journals of the ledger: the portfolio
    account holds exactly the principal still owed on active loans."""
    with tenant_context(demo[slug]):
        portfolio = Account.objects.with_balances().get(reference=f"LOAN-PORTFOLIO-{currency}")
        owed = (
            Loan.objects.filter(status="active")
            .with_outstanding()
            .aggregate(total=Sum("outstanding_principal"))["total"]
        )
        assert -portfolio.balance == owed > 0
        for repayment in Repayment.objects.select_related("journal", "loan"):
            debit = repayment.journal.postings.get(account=repayment.loan.account_id)
            assert debit.amount == -repayment.amount
        for loan in Loan.objects.exclude(disbursement_journal=None):
            credit = Posting.objects.get(
                journal=loan.disbursement_journal_id, account=loan.account_id
            )
            assert credit.amount == loan.principal
        written_off = Loan.objects.get(status="written_off")
        assert written_off.write_off_journal.kind == Journal.Kind.WRITE_OFF


def test_reconcile_ledger_passes_on_the_demo_with_its_loans(demo):
    out = StringIO()
    call_command("reconcile_ledger", stdout=out, stderr=StringIO())
    assert "mismatch" not in out.getvalue().lower()


def test_reloading_adds_no_rows(demo):
    models = (LoanProduct, Loan, Installment, Repayment, PenaltyCharge, Collateral)
    with system_scope():
        before = [model._base_manager.count() for model in models]
    call_command("loaddata", "demo", verbosity=0)
    with system_scope():
        assert [model._base_manager.count() for model in models] == before
        assert before[1] == 17


def test_close_of_day_after_loading_carries_on_from_the_demos_last_day(demo):
    """The demo's figures are close of day's own as of END: closing END again changes nothing,
    and the next days only add to what is late."""
    late = {}
    with system_scope():
        charges = PenaltyCharge.objects.count()
        assert run_close_of_day(on=END) == []  # END is closed already
        assert PenaltyCharge.objects.count() == charges
        for loan in Loan.objects.filter(days_past_due__gt=0, status="active"):
            late[loan.pk] = loan.days_past_due
    closed = run_close_of_day(on=END + datetime.timedelta(days=12))
    assert [(day.tenant, day.day.isoformat()) for day in closed][:3] == [
        ("harbour", "2026-11-14"),
        ("harbour", "2026-11-15"),
        ("harbour", "2026-11-16"),
    ]
    with system_scope():
        for pk, days in late.items():
            assert Loan.objects.get(pk=pk).days_past_due == days + 12
        assert PenaltyCharge.objects.count() > charges  # a weekly installment missed meanwhile


def test_the_demo_loans_carry_on_through_the_services(demo):
    """The pending application is approved by someone else than its clerk and disbursed; the
    late borrower repays; the ledger still reconciles."""
    with tenant_context(demo["harbour"]):
        pending = Loan.objects.get(status="pending_approval")
        services.approve_loan(loan=pending, by="user:harbour.manager")
        services.disburse_loan(loan=pending, by="user:harbour.clerk")
        late = Loan.objects.get(reference="LN-000002")
        overdue = sum(i.outstanding for i in late.installments.filter(status="overdue"))
        repayment = services.repay_loan(loan=late, amount=overdue, by="user:harbour.clerk")
        assert repayment.penalties == Decimal("50")
        assert not late.installments.filter(status="overdue").exists()
    out = StringIO()
    call_command("reconcile_ledger", stdout=out, stderr=StringIO())
    assert "mismatch" not in out.getvalue().lower()


def test_the_demo_in_the_back_office(demo, client):
    """Every demo loan's page, the list and the PAR report (as of the demo's last day: the
    harbour loan in arrears is past 30 days)."""
    membership = StaffMembershipFactory(tenant=demo["harbour"], user__username="hana")
    membership.user.user_permissions.set(
        Permission.objects.filter(content_type__app_label__in=["lending", "customers"])
    )
    client.force_login(membership.user)
    with tenant_context(demo["harbour"]):
        loans = list(Loan.objects.all())
    assert client.get("/admin/lending/loan/").status_code == 200
    for loan in loans:
        assert client.get(f"/admin/lending/loan/{loan.pk}/change/").status_code == 200
    report = client.get("/admin/lending/loan/par/", {"on": END.isoformat()}).context
    [personal] = [row for row in report["rows"] if row["name"] == "Personal loan"]
    par1, par30, par60, par90 = (ratio for _amount, ratio in personal["figures"])
    assert par1 == par30 > 0 and par60 == par90 == 0
