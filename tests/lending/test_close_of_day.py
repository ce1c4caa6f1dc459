"""Close of day: overdue installments, days past due, penalties; idempotent, catching up, one
run at a time, a fixed number of queries whatever the number of loans."""

import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEvent
from core.context import system_scope, tenant_context
from core.models import ReferenceCounter
from lending import close_of_day
from lending.close_of_day import CloseOfDayRunning, last_closed_day, run_close_of_day
from lending.models import ClosedDay, Installment, Loan, PenaltyCharge
from tests.concurrency import run_concurrently
from tests.conftest import postgres_only
from tests.lending.loan_rows import active_loan, loan_product

JAN = date(2026, 1, 1)
Status = Installment.Status


def day(n):
    """The n-th day of January 2026 (n > 31 runs on into February), in the past."""
    return JAN + timedelta(days=n - 1)


def close(on, tenant=None, **kwargs):
    return run_close_of_day(on=on, tenant=tenant, **kwargs)


def state(tenant):
    """Everything close of day writes, to compare runs."""
    with tenant_context(tenant):
        return (
            sorted(Installment.objects.values_list("pk", "status", "penalties")),
            sorted(Loan.objects.values_list("pk", "days_past_due")),
            sorted(PenaltyCharge.objects.values_list("installment_id", "charged_on", "amount")),
        )


def installments(loan):
    with tenant_context(loan.tenant):
        return list(Installment.objects.filter(loan=loan).order_by("number"))


def loan_of(loan):
    with tenant_context(loan.tenant):
        return Loan.objects.get(pk=loan.pk)


def charges(loan):
    with tenant_context(loan.tenant):
        return list(
            PenaltyCharge.objects.filter(installment__loan=loan)
            .order_by("installment__number", "charged_on")
            .values_list("installment__number", "charged_on", "amount")
        )


# --- overdue and days past due ----------------------------------------------------------------


def test_unpaid_installments_due_before_the_day_become_overdue(tenant):
    product = loan_product(tenant)
    loan = active_loan(product, dues=[day(10), day(20), day(30)])
    paid = active_loan(product, dues=[day(10), day(20)], paid=1)

    (result,) = close(day(20), tenant)

    # Due on the day itself is not late yet; due the day before is 1 day late.
    assert [i.status for i in installments(loan)] == [
        Status.OVERDUE,
        Status.PENDING,
        Status.PENDING,
    ]
    assert loan_of(loan).days_past_due == 10
    assert [i.status for i in installments(paid)] == [Status.PAID, Status.PENDING]
    assert loan_of(paid).days_past_due == 0
    assert (result.day, result.loans, result.overdue, result.in_arrears) == (day(20), 2, 1, 1)

    close(day(21), tenant)
    assert [i.status for i in installments(loan)] == [
        Status.OVERDUE,
        Status.OVERDUE,
        Status.PENDING,
    ]
    assert loan_of(loan).days_past_due == 11  # counted from the oldest overdue installment


def test_a_partly_paid_installment_becomes_overdue_and_a_paid_up_loan_is_back_to_zero(tenant):
    product = loan_product(tenant)
    loan = active_loan(product, dues=[day(10), day(20)], partly_paid=Decimal("40.00"))
    close(day(15), tenant)
    assert installments(loan)[0].status == Status.OVERDUE
    assert loan_of(loan).days_past_due == 5

    with system_scope():  # the loan is paid up (as the repayment service would record it)
        Installment.objects.filter(loan=loan, number=1).update(
            status=Status.PAID, principal_paid=Decimal("100.00"), interest_paid=Decimal("10.00")
        )
    close(day(16), tenant)
    assert loan_of(loan).days_past_due == 0


def test_only_active_loans_are_touched(tenant):
    product = loan_product(tenant)
    written_off = active_loan(product, dues=[day(10)], status=Loan.Status.WRITTEN_OFF)
    close(day(20), tenant)
    assert installments(written_off)[0].status == Status.PENDING
    assert loan_of(written_off).days_past_due == 0


# --- idempotent, catch-up ---------------------------------------------------------------------


def test_a_second_run_for_the_same_day_changes_nothing(tenant):
    product = loan_product(tenant, penalty_type="rate", penalty_rate=Decimal("36.5"))
    active_loan(product, dues=[day(10), day(20)])
    assert close(day(25), tenant)
    before = state(tenant)

    assert close(day(25), tenant) == []
    assert close(day(24), tenant) == []  # an earlier day is closed too
    assert state(tenant) == before
    with tenant_context(tenant):
        assert last_closed_day() == day(25)


def test_the_last_closed_day_is_one_closed_day_row_per_tenant(tenant, other_tenant):
    close(day(3), tenant)
    close(day(5), tenant)
    close(day(4), other_tenant)
    with system_scope():
        assert sorted(ClosedDay.objects.values_list("tenant__slug", "last_closed_on")) == [
            ("harbour", day(5)),
            ("northwind", day(4)),
        ]
        assert not ReferenceCounter.objects.filter(prefix="lend:cod").exists()


def test_missed_days_are_closed_each_in_order(tenant):
    product = loan_product(tenant, penalty_type="rate", penalty_rate=Decimal("36.5"))
    loan = active_loan(product, dues=[day(10), day(14)])
    assert [r.day for r in close(day(10), tenant)] == [day(10)]  # the first run: that day only

    results = close(day(15), tenant)

    assert [r.day for r in results] == [day(11), day(12), day(13), day(14), day(15)]
    assert [r.overdue for r in results] == [1, 0, 0, 0, 1]
    # 36.5 % a year on the 110.00 overdue is 0.11 a day: one charge per installment per day late.
    assert charges(loan) == [(1, day(n), Decimal("0.11")) for n in range(11, 16)] + [
        (2, day(15), Decimal("0.11"))
    ]
    assert loan_of(loan).days_past_due == 5


# --- penalties --------------------------------------------------------------------------------


def test_a_flat_penalty_is_charged_once_per_missed_installment_after_the_tolerance(tenant):
    product = loan_product(
        tenant, penalty_type="flat", penalty_amount=Decimal("25.00"), penalty_tolerance_days=3
    )
    loan = active_loan(product, dues=[day(10), day(12), day(30)])
    close(day(13), tenant)
    assert charges(loan) == []  # 3 days late: within the tolerance

    close(day(14), tenant)  # 4 days late
    assert charges(loan) == [(1, day(14), Decimal("25.00"))]

    close(day(31), tenant)
    # Once each: the first two 4 days late; the third is 1 day late, within the tolerance.
    assert charges(loan) == [(1, day(14), Decimal("25.00")), (2, day(16), Decimal("25.00"))]
    assert [i.penalties for i in installments(loan)] == [Decimal("25.00"), Decimal("25.00"), 0]


def test_a_rate_penalty_is_charged_each_day_after_the_tolerance_on_what_is_overdue(tenant):
    product = loan_product(
        tenant, penalty_type="rate", penalty_rate=Decimal("36.5"), penalty_tolerance_days=2
    )
    # 1,000.00 principal + 95.00 interest, 95.00 of it paid: 1,000.00 overdue, 1.00 a day.
    loan = active_loan(
        product, dues=[day(10)], principal="1000.00", interest="95.00", partly_paid=Decimal("95")
    )
    close(day(10), tenant)
    close(day(15), tenant)

    assert charges(loan) == [(1, day(n), Decimal("1.00")) for n in (13, 14, 15)]
    assert installments(loan)[0].penalties == Decimal("3.00")


def test_a_rate_penalty_rounds_half_even_to_the_currency(tenant):
    # 36.5 % a year on 0.50 is 0.0005 a day: rounds to 0.00, so nothing is charged.
    product = loan_product(tenant, penalty_type="rate", penalty_rate=Decimal("36.5"))
    loan = active_loan(product, dues=[day(10)], principal="0.50", interest="0.00")
    close(day(12), tenant)
    assert charges(loan) == []
    jpy = loan_product(tenant, currency="JPY", penalty_type="rate", penalty_rate=Decimal("36.5"))
    # 36.5 % on 2,500 yen is 2.5 a day: half to even, 2.
    yen = active_loan(jpy, dues=[day(10)], principal="2500", interest="0")
    close(day(13), tenant)
    assert charges(yen) == [(1, day(13), Decimal("2"))]


def test_no_penalty_on_a_product_without_one_or_on_a_paid_installment(tenant):
    none = active_loan(loan_product(tenant), dues=[day(10)])
    flat = loan_product(tenant, penalty_type="flat", penalty_amount=Decimal("5.00"))
    paid = active_loan(flat, dues=[day(10)], paid=1)
    close(day(20), tenant)
    assert charges(none) == charges(paid) == []


def test_a_day_charged_is_never_charged_twice(tenant):
    """The database refuses a second charge of an installment for one day."""
    from django.db import IntegrityError, transaction

    product = loan_product(tenant, penalty_type="rate", penalty_rate=Decimal("36.5"))
    loan = active_loan(product, dues=[day(10)])
    close(day(12), tenant)
    with tenant_context(tenant), pytest.raises(IntegrityError), transaction.atomic():
        PenaltyCharge.objects.create(
            installment=installments(loan)[0], charged_on=day(12), amount=Decimal("1.00")
        )


# --- tenants, the lock ------------------------------------------------------------------------


def test_one_tenant_or_every_active_one(tenant, other_tenant):
    mine = active_loan(loan_product(tenant), dues=[day(10)])
    theirs = active_loan(loan_product(other_tenant), dues=[day(10)])
    close(day(12), tenant)
    assert loan_of(mine).days_past_due == 2 and loan_of(theirs).days_past_due == 0

    results = close(day(13))
    assert [(r.tenant, r.day) for r in results] == [("harbour", day(13)), ("northwind", day(13))]
    assert loan_of(mine).days_past_due == loan_of(theirs).days_past_due == 3


def test_an_overlapping_run_is_refused_and_the_lock_released_after(tenant):
    active_loan(loan_product(tenant), dues=[day(10)])
    refusals = []

    def overlap(*args):
        try:
            close(day(12), tenant)
        except CloseOfDayRunning as error:
            refusals.append(str(error))

    close(day(11), tenant, progress=overlap)  # a second run starts while the first runs

    assert len(refusals) == 1 and "already running for harbour" in refusals[0]
    with tenant_context(tenant):
        assert last_closed_day() == day(11)
    assert [r.day for r in close(day(12), tenant)] == [day(12)]  # the lock was released


def test_the_command_refuses_while_another_run_holds_the_lock(tenant):
    cache.add(close_of_day._lock_key(tenant), "token host-a pid 1 since 2026-01-12 00:05:00Z")
    with pytest.raises(CommandError, match=r"already running for harbour \(host-a pid 1"):
        call_command("run_lending_close_of_day", "--date", "2026-01-12", stdout=io.StringIO())
    with tenant_context(tenant):
        assert last_closed_day() is None


# --- the command ------------------------------------------------------------------------------


def test_the_command_reports_each_day_and_shows_progress(tenant, monkeypatch):
    monkeypatch.setattr(close_of_day, "BATCH", 2)  # several batches of loans
    product = loan_product(tenant, penalty_type="flat", penalty_amount=Decimal("5.00"))
    loans = [active_loan(product, dues=[day(10), day(40)]) for _ in range(5)]
    out, err = io.StringIO(), io.StringIO()
    call_command("run_lending_close_of_day", "--date", "2026-01-11", stdout=out, stderr=err)
    call_command(
        "run_lending_close_of_day", "--date=2026-01-12", "--tenant=harbour", stdout=out, stderr=err
    )
    assert out.getvalue().splitlines() == [
        "harbour 2026-01-11: 5 active loans, 5 installments overdue, 5 penalties (25.00 EUR), "
        "5 loans in arrears.",
        "harbour 2026-01-12: 5 active loans, 0 installments overdue, 0 penalties, "
        "5 loans in arrears.",
    ]
    assert "harbour 2026-01-11: 5/5 loans (100 %" in err.getvalue()
    assert all(loan_of(loan).days_past_due == 2 for loan in loans)
    out = io.StringIO()
    call_command("run_lending_close_of_day", "--date", "2026-01-12", stdout=out, stderr=err)
    assert "Nothing to do: every day up to 2026-01-12 is closed already." in out.getvalue()


def test_the_command_refuses_a_bad_date_or_tenant(db):
    with pytest.raises(CommandError, match="--date must be a date as YYYY-MM-DD, not '12/01/2026'"):
        call_command("run_lending_close_of_day", "--date", "12/01/2026")
    tomorrow = date.today() + timedelta(days=2)  # days of margin: midnight may pass
    with pytest.raises(CommandError, match=f"--date {tomorrow} is after today"):
        call_command("run_lending_close_of_day", "--date", tomorrow.isoformat())
    with pytest.raises(CommandError, match="No tenant with slug 'nowhere'"):
        call_command("run_lending_close_of_day", "--tenant", "nowhere")


def test_each_day_closed_is_an_audit_event(tenant):
    product = loan_product(tenant, penalty_type="flat", penalty_amount=Decimal("5.00"))
    active_loan(product, dues=[day(10)])
    close(day(11), tenant)
    with tenant_context(tenant):
        event = AuditEvent.objects.get(action="close_of_day")
    assert (event.resource_type, event.resource_id) == ("lending.closeofday", "2026-01-11")
    assert event.changes == {
        "loans": 1,
        "installments_overdue": 1,
        "penalty_charges": 1,
        "penalties": {"EUR": "5.00"},
        "loans_in_arrears": 1,
    }


# --- cost -------------------------------------------------------------------------------------


def test_the_queries_of_a_day_do_not_grow_with_the_loans(tenant):
    flat = loan_product(tenant, penalty_type="flat", penalty_amount=Decimal("5.00"))
    rate = loan_product(tenant, penalty_type="rate", penalty_rate=Decimal("36.5"))

    def queries_to_close(on, loans):
        for n in range(loans):
            active_loan((flat, rate)[n % 2], dues=[on - timedelta(days=3), on - timedelta(days=1)])
        with CaptureQueriesContext(connection) as captured:
            (result,) = close(on, tenant)
        assert result.overdue >= loans and result.penalties >= loans and result.in_arrears > 0
        return len(captured)

    close(day(19), tenant)  # the first run also creates the tenant's record of the last day
    few = queries_to_close(day(20), 2)
    many = queries_to_close(day(21), 12)
    assert few == many
    assert many <= 16


class LockNeverHeld:
    """A cache whose lock every run gets."""

    def add(self, key, value, timeout):
        return True

    def get(self, key):
        return None

    def touch(self, key, timeout):
        return True


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_runs_past_an_expired_lock_still_close_a_day_once(tenant, monkeypatch):
    """Should the cache lock ever fail (expired under a stalled run, a cache per host), the
    tenant's record, locked in the database, lets one run close the day; the other finds it
    closed."""
    product = loan_product(tenant, penalty_type="flat", penalty_amount=Decimal("5.00"))
    loan = active_loan(product, dues=[day(10), day(11)])
    monkeypatch.setattr(close_of_day, "cache", LockNeverHeld())

    outcomes = run_concurrently(lambda: close(day(12), tenant), lambda: close(day(12), tenant))

    assert sorted(len(outcome) for outcome in outcomes) == [0, 1], outcomes
    assert charges(loan) == [(1, day(12), Decimal("5.00")), (2, day(12), Decimal("5.00"))]
    assert [i.penalties for i in installments(loan)] == [Decimal("5.00")] * 2
    with tenant_context(tenant):
        assert AuditEvent.objects.filter(action="close_of_day").count() == 1


def test_with_the_services_penalties_are_repaid_first_and_arrears_clear(tenant):
    """A loan made and repaid through the lending services: close of day charges it, a
    repayment pays the penalty first (the default allocation order), and the next close of day
    finds the loan back in order."""
    from lending import services
    from tests.lending.factories import make_loan, make_product

    today = date.today()
    product = make_product(
        tenant, penalty_type="flat", penalty_amount=Decimal("20.00"), penalty_tolerance_days=0
    )
    # Disbursed 45 days ago: the first monthly installment is about two weeks late.
    loan = make_loan(
        tenant, status="active", product=product, start=today - timedelta(days=45), funds="2000"
    )
    (first, *_rest) = installments(loan)
    close(today - timedelta(days=1), tenant)
    late = (today - timedelta(days=1) - first.due_date).days
    assert loan_of(loan).days_past_due == late > 0
    # The tenant's first close of day: that day alone, with the penalty of the missed one.
    assert charges(loan) == [(1, today - timedelta(days=1), Decimal("20.00"))]

    with tenant_context(tenant):
        repayment = services.repay_loan(
            loan=loan_of(loan), amount=installments(loan)[0].outstanding
        )
    assert repayment.penalties == Decimal("20.00")
    assert installments(loan)[0].status == Status.PAID
    close(today, tenant)
    assert loan_of(loan).days_past_due == 0
    assert len(charges(loan)) == 1
