"""Properties every schedule keeps, whatever the terms (hypothesis searches for a counterexample):
any principal from one minor unit, any rate up to 40 %, up to 360 installments, a first period up
to a week shorter or longer than a regular one, grace, currencies with 0, 2 and 3 decimals."""

import datetime
import itertools
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lending.schedule import (
    Amortization,
    DayCount,
    Frequency,
    InterestMethod,
    Overpayment,
    Terms,
    accrued_interest,
    build_schedule,
    regular_amount,
    reschedule,
)

fast = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def loan_terms(draw, **fixed):
    frequency = draw(st.sampled_from(Frequency))
    count = draw(st.integers(1, 360))
    rate = draw(st.sampled_from([Decimal(0), Decimal(40)]) | st.decimals(0, 40, places=2))
    minor_unit = draw(st.sampled_from([2, 2, 0, 3]))
    units = draw(st.integers(1, 10**11))  # down to one minor unit: a schedule all rounding
    start = draw(st.dates(datetime.date(1999, 1, 1), datetime.date(2099, 1, 1)))
    anchor = draw(st.sampled_from(["start", "first", "both"]))
    first = None
    if anchor != "start":
        # A first period up to a week shorter or longer than a regular one.
        step = {Frequency.MONTHLY: 30, Frequency.BIWEEKLY: 14, Frequency.WEEKLY: 7}[frequency]
        first = start + datetime.timedelta(days=draw(st.integers(max(1, step - 7), step + 7)))
    values = {
        "principal": Decimal(units).scaleb(-minor_unit),
        "annual_interest_rate": rate,
        "number_of_installments": count,
        "repayment_frequency": frequency,
        "interest_method": draw(st.sampled_from(InterestMethod)),
        "amortization": draw(st.sampled_from(Amortization)),
        "day_count": draw(st.sampled_from(DayCount)),
        "start_date": None if anchor == "first" else start,
        "first_repayment_date": first,
        "grace_installments": draw(st.integers(0, min(count - 1, 6))),
        "minor_unit": minor_unit,
    } | fixed
    return Terms(**values)


def amortizing(schedule, terms):
    return [i for i in schedule.installments if i.number > terms.grace_installments]


@fast
@given(loan_terms())
def test_the_principal_is_repaid_exactly_and_nothing_is_negative(terms):
    schedule = build_schedule(terms)
    assert len(schedule.installments) == terms.number_of_installments
    assert sum(i.principal for i in schedule.installments) == terms.principal
    assert schedule.installments[-1].balance == 0
    assert schedule.installments[-1].principal > 0  # the last is never left empty by rounding
    for item in schedule.installments:
        assert min(item.principal, item.interest, item.fees, item.balance) >= 0
        assert item.total == item.principal + item.interest + item.fees
        for amount in (item.principal, item.interest, item.total, item.balance):
            assert amount.as_tuple().exponent == -terms.minor_unit
    assert schedule.total_payable == terms.principal + schedule.total_interest
    if terms.annual_interest_rate == 0:
        assert schedule.total_interest == 0


@fast
@given(loan_terms())
def test_due_dates_strictly_increase_from_the_interest_start(terms):
    dates = [terms.interest_start] + [i.due_date for i in build_schedule(terms).installments]
    assert all(earlier < later for earlier, later in itertools.pairwise(dates))
    assert [i.number for i in build_schedule(terms).installments] == list(
        range(1, terms.number_of_installments + 1)
    )


@fast
@given(loan_terms(amortization=Amortization.EQUAL_INSTALLMENTS))
def test_equal_installments_are_equal_except_the_last(terms):
    """Except where a period bears more interest than the level amount: that one pays interest
    only, which is more (a long first period, a 31-day month on a long loan at a high rate)."""
    schedule = build_schedule(terms)
    regular = amortizing(schedule, terms)[:-1]
    level = regular_amount(schedule, terms)
    assert all(i.total == level or (i.principal == 0 and i.total > level) for i in regular)
    grace = schedule.installments[: terms.grace_installments]
    assert all(i.principal == 0 for i in grace)
    if terms.interest_method is InterestMethod.FLAT:  # flat interest is spread evenly too
        assert len({i.total for i in grace}) <= 1


@fast
@given(loan_terms(amortization=Amortization.EQUAL_PRINCIPAL))
def test_equal_principal_parts_are_equal_except_the_last(terms):
    schedule = build_schedule(terms)
    assert len({i.principal for i in amortizing(schedule, terms)[:-1]}) <= 1
    assert all(i.principal == 0 for i in schedule.installments[: terms.grace_installments])


@fast
@given(loan_terms(interest_method=InterestMethod.DECLINING_BALANCE))
def test_each_installments_interest_is_the_interest_accrued_over_its_period(terms):
    """What a payoff on a due date charges (accrued_interest) is what the schedule charges."""
    balance, start = terms.principal, terms.interest_start
    for item in build_schedule(terms).installments:
        assert item.interest == accrued_interest(
            principal=balance,
            annual_interest_rate=terms.annual_interest_rate,
            start=start,
            end=item.due_date,
            day_count=terms.day_count,
            minor_unit=terms.minor_unit,
        )
        balance, start = item.balance, item.due_date


@fast
@given(loan_terms(), st.data())
def test_a_rescheduled_loan_repays_the_outstanding_principal_on_the_original_dates(terms, data):
    original = build_schedule(terms)
    paid = data.draw(st.integers(0, terms.number_of_installments - 1), label="installments paid")
    as_of = original.installments[paid - 1].due_date if paid else terms.interest_start
    left = original.installments[paid - 1].balance if paid else terms.principal
    outstanding = data.draw(
        st.integers(1, int(left.scaleb(terms.minor_unit))), label="outstanding units"
    )
    outstanding = Decimal(outstanding).scaleb(-terms.minor_unit)
    remaining = original.installments[paid:]
    reduced = reschedule(
        terms, outstanding_principal=outstanding, as_of=as_of, overpayment="reduce_installments"
    )
    shortened = reschedule(
        terms, outstanding_principal=outstanding, as_of=as_of, overpayment=Overpayment.SHORTEN_TERM
    )
    assert [(i.number, i.due_date) for i in reduced.installments] == [
        (i.number, i.due_date) for i in remaining
    ]
    dates = [i.due_date for i in reduced.installments]
    assert [i.due_date for i in shortened.installments] == dates[: len(shortened.installments)]
    for schedule in (reduced, shortened):
        assert schedule.principal == outstanding
        assert all(min(i.principal, i.interest) >= 0 for i in schedule.installments)
    # Shortening keeps the installment at most the agreed one, when the remaining term allows.
    if len(shortened.installments) < len(remaining):
        assert regular_amount(shortened, terms) <= regular_amount(original, terms)
