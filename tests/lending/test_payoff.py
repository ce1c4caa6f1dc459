"""The payoff: what closes a loan on a date, by the loan's day count."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from core.context import tenant_context
from lending import selectors, services
from lending.models import Installment, Loan
from lending.schedule import accrued_interest
from tests.lending.factories import make_loan, make_product

D = Decimal
START = datetime.date(2026, 1, 15)


@pytest.mark.parametrize("day_count", ["30/360", "actual/365", "actual/360"])
def test_payoff_between_due_dates_adds_the_interest_accrued_since_the_last(tenant, day_count):
    product = make_product(tenant, day_count=day_count)
    loan = make_loan(tenant, status="active", product=product, start=START)
    on = datetime.date(2026, 3, 25)  # installments 1 and 2 due and unpaid; 10 days into 3
    with tenant_context(tenant):
        first, second, third = list(selectors.schedule_of(loan))[:3]
        balance = D("1200.00") - first.principal - second.principal
        accrued = accrued_interest(
            principal=balance,
            annual_interest_rate=D("12"),
            start=second.due_date,
            end=on,
            day_count=day_count,
        )
        assert accrued > 0
        assert selectors.payoff(loan, on) == {
            "principal": D("1200.00"),
            "interest": first.interest + second.interest + accrued,
            "fees": 0,
            "penalties": 0,
            "total": D("1200.00") + first.interest + second.interest + accrued,
        }
        # On a due date the payoff and the schedule agree: that installment's interest, no more.
        assert selectors.payoff(loan, third.due_date)["interest"] == (
            first.interest + second.interest + third.interest
        )


def test_payoff_counts_penalties_and_what_was_paid(tenant):
    loan = make_loan(tenant, status="active", start=START, funds="100.00")
    on = datetime.date(2026, 2, 20)
    with tenant_context(tenant):
        Installment.objects.filter(loan=loan, number=1).update(penalties=D("5.00"))
        services.repay_loan(loan=loan, amount="50.00", received_on=on)
        owed = selectors.payoff(loan, on)
        first = Installment.objects.get(loan=loan, number=1)
        assert owed["penalties"] == 0 and owed["principal"] == D("1200.00") - D("33.00")
        # Paying exactly the payoff on that day closes the loan.
        services.repay_loan(loan=loan, amount=owed["total"], received_on=on)
        assert Loan.objects.get(pk=loan.pk).status == "closed"
        assert first.penalties_paid == D("5.00")


def test_payoff_after_an_overpayment_runs_from_it(tenant):
    start = datetime.date.today() - datetime.timedelta(days=20)
    loan = make_loan(tenant, status="active", start=start, funds="1000.00")
    with tenant_context(tenant):
        services.repay_loan(loan=loan, amount="600.00", received_on=start + datetime.timedelta(5))
        owed = selectors.payoff(loan)
        accrued = accrued_interest(
            principal=owed["principal"],
            annual_interest_rate=D("12"),
            start=start + datetime.timedelta(5),
            end=datetime.date.today(),
            day_count="30/360",
        )
        assert owed["interest"] == accrued
        services.repay_loan(loan=loan, amount=owed["total"])
        assert Loan.objects.get(pk=loan.pk).status == "closed"


def test_no_payoff_before_disbursement_and_none_once_settled(tenant):
    loan = make_loan(tenant, status="active", start=START)
    with tenant_context(tenant):
        with pytest.raises(ValidationError):
            selectors.payoff(loan, START - datetime.timedelta(days=1))
        pending = make_loan(tenant)
        assert selectors.payoff(pending)["total"] == 0
