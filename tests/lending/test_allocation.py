"""How repayments are allocated: the due installments oldest first in the product's order,
penalties included; what is left pays accrued interest then principal ahead, the schedule
recomputed by the product's overpayment rule; reversals restore the previous state exactly;
the loan closes when nothing is owed."""

import datetime
from decimal import Decimal

import pytest

from accounts.models import AccountBalance
from core.context import tenant_context
from lending import selectors, services
from lending.close_of_day import run_close_of_day
from lending.models import Installment, Loan, RepaymentAllocation
from lending.rules import TermsViolation
from lending.schedule import accrued_interest
from tests.lending.factories import make_loan, make_product

D = Decimal
START = datetime.date(2026, 1, 15)  # 12 monthly installments from 15 February 2026, 30/360


def state(loan):
    """Everything a repayment may change: each installment, the loan's status, the account."""
    rows = list(
        Installment.objects.filter(loan=loan)
        .order_by("number")
        .values_list(
            "number",
            "due_date",
            "principal",
            "interest",
            "penalties",
            "principal_paid",
            "interest_paid",
            "fees_paid",
            "penalties_paid",
            "status",
            "paid_on",
        )
    )
    current = Loan.objects.get(pk=loan.pk)
    return rows, current.status, current.closed_on, balance(loan)


def balance(loan):
    return AccountBalance.objects.get(account_id=loan.account_id).balance


def installment(loan, number):
    return Installment.objects.get(loan=loan, number=number)


def paid(row):
    return (row.penalties_paid, row.fees_paid, row.interest_paid, row.principal_paid)


@pytest.fixture
def loan(tenant):
    with tenant_context(tenant):
        yield make_loan(tenant, status="active", start=START, funds="5000.00")


def test_a_partial_payment_pays_the_oldest_installment_interest_first(tenant, loan):
    with tenant_context(tenant):
        repayment = services.repay_loan(loan=loan, amount="50.00")
        first = installment(loan, 1)
        assert (first.interest, first.principal) == (D("12.00"), D("94.62"))
        assert paid(first) == (0, 0, D("12.00"), D("38.00"))
        assert first.status == "partially_paid"
        assert (repayment.interest, repayment.principal) == (D("12.00"), D("38.00"))
        # The next payment finishes installment 1 before touching installment 2.
        services.repay_loan(loan=loan, amount="100.00")
        first, second = installment(loan, 1), installment(loan, 2)
        assert (first.status, first.paid_on) == ("paid", datetime.date.today())
        assert paid(second)[2:] == (second.interest, D("100.00") - D("56.62") - second.interest)


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        (["penalties", "fees", "interest", "principal"], (D("5.00"), 0, D("12.00"), D("3.00"))),
        (["principal", "interest", "fees", "penalties"], (0, 0, 0, D("20.00"))),
        (["interest", "principal", "penalties", "fees"], (0, 0, D("12.00"), D("8.00"))),
        (["fees", "interest", "penalties", "principal"], (D("5.00"), 0, D("12.00"), D("3.00"))),
    ],
)
def test_each_allocation_order(tenant, order, expected):
    product = make_product(tenant, allocation_order=order)
    loan = make_loan(tenant, status="active", product=product, start=START, funds="100.00")
    with tenant_context(tenant):
        # Close of day charged a penalty on the first installment.
        Installment.objects.filter(loan=loan, number=1).update(penalties=D("5.00"))
        services.repay_loan(loan=loan, amount="20.00")
        assert paid(installment(loan, 1)) == expected


def test_penalties_of_every_due_installment_are_paid_in_turn(tenant, loan):
    with tenant_context(tenant):
        Installment.objects.filter(loan=loan, number__in=[1, 2]).update(penalties=D("5.00"))
        services.repay_loan(loan=loan, amount="120.00")
        first, second = installment(loan, 1), installment(loan, 2)
        assert first.status == "paid" and first.penalties_paid == D("5.00")
        assert paid(second) == (D("5.00"), 0, D("3.38"), 0)  # 120 - 111.62 - 5 = 3.38


def future_loan(tenant, overpayment):
    """A loan disbursed ten days ago under `overpayment`: nothing has fallen due yet."""
    product = make_product(tenant, overpayment=overpayment)
    start = datetime.date.today() - datetime.timedelta(days=10)
    return make_loan(tenant, status="active", product=product, start=start, funds="1000.00")


@pytest.mark.parametrize("rule", ["reduce_installments", "shorten_term"])
def test_an_overpayment_pays_accrued_interest_then_principal_and_reschedules(tenant, rule):
    loan = future_loan(tenant, rule)
    today = datetime.date.today()
    with tenant_context(tenant):
        before = list(selectors.schedule_of(loan))
        accrued = accrued_interest(
            principal=D("1200.00"),
            annual_interest_rate=D("12"),
            start=loan.start_date,
            end=today,
            day_count="30/360",
        )
        repayment = services.repay_loan(loan=loan, amount="500.00")
        assert (repayment.interest, repayment.principal) == (accrued, D("500.00") - accrued)
        assert repayment.rescheduled_on == today
        after = list(selectors.schedule_of(loan))
        owed = sum(i.principal - i.principal_paid for i in after)
        assert owed == D("1200.00") - (D("500.00") - accrued)
        assert sum(i.principal for i in after) == D("1200.00")  # the principal lent, exactly
        later = after[1:]
        if rule == "reduce_installments":
            assert len(after) == 12
            assert max(i.principal + i.interest for i in later) < before[1].total
        else:
            assert len(after) < 12
            assert [i.due_date for i in after] == [i.due_date for i in before[: len(after)]]
            assert max(i.principal + i.interest for i in later[:-1]) <= before[1].total
        first = after[0]
        assert (first.interest_paid, first.principal_paid) == (accrued, D("500.00") - accrued)


@pytest.mark.parametrize("rule", ["reduce_installments", "shorten_term"])
def test_reversing_a_repayment_restores_the_previous_state_exactly(tenant, rule):
    loan = future_loan(tenant, rule)
    with tenant_context(tenant):
        services.repay_loan(loan=loan, amount="40.00")
        before = state(loan)
        repayment = services.repay_loan(loan=loan, amount="700.00")
        assert state(loan) != before
        services.reverse_repayment(repayment=repayment)
        assert state(loan) == before
        assert RepaymentAllocation.objects.filter(repayment=repayment).exists()
        assert selectors.repayments_of(loan).first().reversal_journal.kind == "reversal"


def test_reversals_go_newest_first_and_once(tenant, loan):
    from core.errors import Conflict

    with tenant_context(tenant):
        first = services.repay_loan(loan=loan, amount="10.00")
        second = services.repay_loan(loan=loan, amount="10.00")
        with pytest.raises(Conflict, match="later repayment"):
            services.reverse_repayment(repayment=first)
        services.reverse_repayment(repayment=second)
        with pytest.raises(Conflict, match="already been reversed"):
            services.reverse_repayment(repayment=second)
        services.reverse_repayment(repayment=first)
        assert all(paid(i) == (0, 0, 0, 0) for i in selectors.schedule_of(loan))


def test_paying_everything_closes_the_loan_and_reversing_reopens_it(tenant, loan):
    with tenant_context(tenant):
        owed = selectors.payoff(loan)
        with pytest.raises(TermsViolation, match="more than") as refused:
            services.repay_loan(loan=loan, amount=owed["total"] + D("0.01"))
        assert refused.value.field == "amount"
        before = state(loan)
        repayment = services.repay_loan(loan=loan, amount=owed["total"])
        closed = Loan.objects.get(pk=loan.pk)
        assert (closed.status, closed.closed_on) == ("closed", datetime.date.today())
        assert all(i.status == "paid" for i in selectors.schedule_of(loan))
        assert repayment.principal == D("1200.00")
        assert selectors.get_loan(loan.reference).outstanding_total == 0
        services.reverse_repayment(repayment=repayment)
        assert state(loan) == before


def in_arrears(loan):
    """As close of day leaves it: every installment due before today overdue, the loan counting
    the days since the oldest."""
    today = datetime.date.today()
    Installment.objects.filter(loan=loan, due_date__lt=today).update(status="overdue")
    oldest = Installment.objects.filter(loan=loan).order_by("due_date").first().due_date
    Loan.objects.filter(pk=loan.pk).update(days_past_due=(today - oldest).days)
    return (today - oldest).days


def test_a_repayment_clearing_the_arrears_stops_the_days_past_due_at_once(tenant, loan):
    """Not at the next close of day: the loan read now is not late any more, closed or not."""
    with tenant_context(tenant):
        days = in_arrears(loan)
        assert days > 0
        due = sum(i.total for i in selectors.schedule_of(loan) if i.status == "overdue")
        oldest = services.repay_loan(loan=loan, amount=installment(loan, 1).total)
        second = installment(loan, 2).due_date
        assert Loan.objects.get(pk=loan.pk).days_past_due == (datetime.date.today() - second).days
        services.reverse_repayment(repayment=oldest)
        assert Loan.objects.get(pk=loan.pk).days_past_due == days
        services.repay_loan(loan=loan, amount=due)
        assert Loan.objects.get(pk=loan.pk).days_past_due == 0
        services.repay_loan(loan=loan, amount=selectors.payoff(loan)["total"])
        closed = Loan.objects.get(pk=loan.pk)
        assert (closed.status, closed.days_past_due) == ("closed", 0)


def test_a_reversal_leaves_an_installment_paid_on_time_overdue_once_its_due_date_is_closed(
    tenant, loan
):
    """Paid on its due date, so close of day passed it by; unpaid again, it is as late as close
    of day would have made it, and the loan counts its days past due at once."""
    with tenant_context(tenant):
        first = installment(loan, 1)
        early = services.repay_loan(loan=loan, amount=first.total, received_on=first.due_date)
        assert installment(loan, 1).status == "paid"
        yesterday = datetime.date.today() - datetime.timedelta(days=1)
        run_close_of_day(on=yesterday, tenant=tenant)
        assert installment(loan, 2).status == "overdue"
        services.reverse_repayment(repayment=early)
        assert installment(loan, 1).status == "overdue"
        days = (yesterday - first.due_date).days  # counted on the last day closed
        assert Loan.objects.get(pk=loan.pk).days_past_due == days


def test_a_repayment_counts_the_days_past_due_on_the_last_day_closed(tenant, loan):
    """As close of day counted them: a repayment the morning after adds no day of its own."""
    yesterday = datetime.date.today() - datetime.timedelta(days=1)
    with tenant_context(tenant):
        run_close_of_day(on=yesterday, tenant=tenant)
        first, second = installment(loan, 1), installment(loan, 2)
        assert first.status == second.status == "overdue"
        assert Loan.objects.get(pk=loan.pk).days_past_due == (yesterday - first.due_date).days
        services.repay_loan(loan=loan, amount=first.total)
        assert Loan.objects.get(pk=loan.pk).days_past_due == (yesterday - second.due_date).days


@pytest.mark.parametrize(("days_closed_after", "status"), [(0, "pending"), (1, "overdue")])
def test_an_installment_is_overdue_once_a_day_after_its_due_date_is_closed(
    tenant, loan, days_closed_after, status
):
    """Close of day D makes overdue what fell due before D: the reversal draws the same line."""
    with tenant_context(tenant):
        first = installment(loan, 1)
        paid = services.repay_loan(loan=loan, amount=first.total, received_on=first.due_date)
        closed = first.due_date + datetime.timedelta(days=days_closed_after)
        run_close_of_day(on=closed, tenant=tenant)
        services.reverse_repayment(repayment=paid)
        assert installment(loan, 1).status == status


def test_installments_a_reversal_brings_back_are_overdue_once_their_due_date_is_closed(tenant):
    """A payment ahead shortened the term; by the time it is reversed, close of day has passed
    the due dates of the installments it had made unnecessary."""
    product = make_product(tenant, overpayment="shorten_term")
    loan = make_loan(
        tenant, status="active", product=product, start=START, installments=6, funds="1000.00"
    )
    with tenant_context(tenant):
        last = selectors.schedule_of(loan).last()
        ahead = services.repay_loan(loan=loan, amount="500.00", received_on=START)
        assert not Installment.objects.filter(loan=loan, number=last.number).exists()
        yesterday = datetime.date.today() - datetime.timedelta(days=1)
        run_close_of_day(on=yesterday, tenant=tenant)
        services.reverse_repayment(repayment=ahead)
        assert installment(loan, last.number).status == "overdue"
        oldest = installment(loan, 1).due_date
        assert Loan.objects.get(pk=loan.pk).days_past_due == (yesterday - oldest).days


def test_a_shortened_term_moves_the_maturity_date_and_a_reversal_restores_it(tenant):
    loan = future_loan(tenant, "shorten_term")
    with tenant_context(tenant):
        maturity = Loan.objects.get(pk=loan.pk).maturity_date
        assert maturity == selectors.schedule_of(loan).last().due_date
        repayment = services.repay_loan(loan=loan, amount="500.00")
        shortened = Loan.objects.get(pk=loan.pk).maturity_date
        assert shortened == selectors.schedule_of(loan).last().due_date < maturity
        services.reverse_repayment(repayment=repayment)
        assert Loan.objects.get(pk=loan.pk).maturity_date == maturity


def test_paying_the_installments_as_scheduled_closes_the_loan(tenant):
    start = datetime.date(2025, 6, 15)
    loan = make_loan(tenant, status="active", start=start, funds="500.00")
    with tenant_context(tenant):
        for row in list(selectors.schedule_of(loan)):
            services.repay_loan(loan=loan, amount=row.total, received_on=row.due_date)
        assert Loan.objects.get(pk=loan.pk).status == "closed"
        assert balance(loan) == D("1700.00") - sum(i.total for i in selectors.schedule_of(loan))
