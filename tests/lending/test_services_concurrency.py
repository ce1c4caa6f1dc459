"""Loans under concurrency (PostgreSQL, real transactions in threads): the loan's row lock
makes racing steps take turns, so a loan is never paid beyond its payoff, disbursed twice or
decided twice."""

import datetime
from decimal import Decimal

import pytest

from accounts.models import Journal
from core.context import tenant_context
from core.errors import Conflict
from lending import selectors, services
from lending.models import Loan, Repayment
from lending.rules import TermsViolation
from tests.concurrency import run_concurrently
from tests.conftest import postgres_only
from tests.lending.factories import APPROVER, make_loan

D = Decimal
pytestmark = [postgres_only, pytest.mark.django_db(transaction=True)]


def test_racing_payoffs_close_the_loan_once(tenant):
    loan = make_loan(tenant, status="active", start=datetime.date(2026, 1, 15), funds="3000")
    with tenant_context(tenant):
        total = selectors.payoff(loan)["total"]
        outcomes = run_concurrently(
            *[lambda: services.repay_loan(loan=loan, amount=total) for _ in range(4)]
        )
        made = [o for o in outcomes if isinstance(o, Repayment)]
        assert len(made) == 1, outcomes
        assert all(isinstance(o, Conflict | TermsViolation) for o in outcomes if o not in made)
        assert Loan.objects.get(pk=loan.pk).status == "closed"


def test_racing_disbursements_pay_out_once(tenant):
    loan = make_loan(tenant, status="approved")
    with tenant_context(tenant):
        outcomes = run_concurrently(
            *[lambda: services.disburse_loan(loan=loan, by=APPROVER) for _ in range(4)]
        )
        assert sum(isinstance(o, Loan) for o in outcomes) == 1, outcomes
        assert Journal.objects.filter(kind="loan_disbursement").count() == 1
