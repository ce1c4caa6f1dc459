"""Fixed examples of the schedule maths: every method, frequency and day count, month ends, leap
years, grace, 0 % and one installment, rounding, validation, accrual and rescheduling. The
figures were worked by hand (or by the closed form) and are not read back from the module."""

import datetime
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal, localcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lending.schedule import (
    Overpayment,
    Terms,
    accrued_interest,
    build_schedule,
    day_count_days,
    due_dates,
    regular_amount,
    reschedule,
)

D = Decimal
date = datetime.date


def terms(**overrides):
    """12,000.00 at 12 % over 12 monthly installments from 15 January 2027, annuity, 30/360."""
    values = {
        "principal": D("12000.00"),
        "annual_interest_rate": D(12),
        "number_of_installments": 12,
        "repayment_frequency": "monthly",
        "interest_method": "declining_balance",
        "amortization": "equal_installments",
        "day_count": "30/360",
        "start_date": date(2027, 1, 15),
    }
    return Terms(**(values | overrides))


def rows(schedule):
    return [(i.principal, i.interest, i.total) for i in schedule.installments]


def closed_form(principal, annual_percent, count):
    """P·r / (1 - (1 + r)^-n) with r the monthly rate, rounded half-even to cents."""
    with localcontext(prec=60):
        rate = D(annual_percent) / 100 / 12
        exact = principal * rate / (1 - (1 + rate) ** -count)
    return exact.quantize(D("0.01"), ROUND_HALF_EVEN)


# --- the annuity against its closed form ------------------------------------------------------


@pytest.mark.parametrize(
    ("principal", "rate", "count", "payment"),
    [
        (D("10000.00"), D(12), 12, D("888.49")),
        (D("200000.00"), D(6), 360, D("1199.10")),
        (D("5000.00"), D("7.25"), 36, D("154.96")),
    ],
)
def test_the_monthly_annuity_payment_is_the_closed_form(principal, rate, count, payment):
    assert closed_form(principal, rate, count) == payment
    schedule = build_schedule(
        terms(principal=principal, annual_interest_rate=rate, number_of_installments=count)
    )
    assert {i.total for i in schedule.installments[:-1]} == {payment}
    assert schedule.principal == principal


@settings(max_examples=60, deadline=None)
@given(
    principal=st.integers(1_000_000, 10**10).map(lambda cents: D(cents).scaleb(-2)),
    rate=st.decimals(D("0.01"), 20, places=2),
    count=st.integers(2, 360),
    start=st.dates(date(2000, 1, 1), date(2090, 12, 28)).filter(lambda d: d.day <= 27),
)
def test_any_monthly_30_360_annuity_payment_is_the_closed_form(principal, rate, count, start):
    """Under 30/360 every month from a day up to the 27th is 1/12 of a year: one rate r. (From
    28 February, a month end and so the 30th, to 28 March is 28 days under 30E/360.)

    From 10,000.00 and up to 20 %: below that, or above, the rounded closed form can repay a
    small loan before its last installment (next test)."""
    schedule = build_schedule(
        terms(
            principal=principal,
            annual_interest_rate=rate,
            number_of_installments=count,
            start_date=start,
        )
    )
    assert schedule.installments[0].total == closed_form(principal, rate, count)


def test_over_a_long_term_the_last_installment_absorbs_the_compounded_rounding():
    """As docs/lending.md says: 1,199.101 a month is paid as 1,199.10 359 times."""
    schedule = build_schedule(
        terms(principal=D("200000.00"), annual_interest_rate=D(6), number_of_installments=360)
    )
    assert (schedule.installments[0].total, schedule.installments[-1].total) == (
        D("1199.10"),
        D("1200.14"),
    )


def test_a_closed_form_that_would_repay_early_is_rounded_down():
    """100.00 over 229 months at 0.01 %: 0.4367 rounds to 0.44, and 228 x 0.44 is 100.32."""
    loan = terms(principal=D("100.00"), annual_interest_rate=D("0.01"), number_of_installments=229)
    schedule = build_schedule(loan)
    assert closed_form(D("100.00"), D("0.01"), 229) == D("0.44")
    assert {i.total for i in schedule.installments[:-1]} == {D("0.43")}
    assert schedule.installments[-1].principal == D("100.00") - 228 * D("0.43")
    assert schedule.installments[-1].total > D("0.44")


@pytest.mark.parametrize("amortization", ["equal_installments", "equal_principal"])
def test_the_last_installment_is_never_left_empty(amortization):
    """448.50 / 300 = 1.495 rounds half-even to 1.50, and 299 x 1.50 is all of 448.50."""
    schedule = build_schedule(
        terms(
            principal=D("448.50"),
            annual_interest_rate=D(0),
            number_of_installments=300,
            amortization=amortization,
        )
    )
    assert {i.principal for i in schedule.installments[:-1]} == {D("1.49")}
    assert schedule.installments[-1].principal == D("2.99")


def test_when_rounding_down_is_not_enough_the_payment_is_one_unit_lower():
    """517 yen weekly at 1.72 % over 132 weeks: the closed form is 4.004, but the weekly interest
    (0.17) rounds to 0, so 4 a week would repay 524 by week 131; 3 a week leaves 124 to the last."""
    loan = terms(
        principal=D(517),
        annual_interest_rate=D("1.72"),
        number_of_installments=132,
        repayment_frequency="weekly",
        day_count="actual/360",
        start_date=date(2033, 3, 6),
        minor_unit=0,
    )
    schedule = build_schedule(loan)
    assert {i.total for i in schedule.installments[:-1]} == {D(3)}
    assert rows(schedule)[-1] == (D(124), D(0), D(124))


# --- each method ------------------------------------------------------------------------------


def test_equal_principal_on_a_declining_balance():
    schedule = build_schedule(terms(amortization="equal_principal"))
    assert rows(schedule) == [(D("1000.00"), D(120 - 10 * k), D(1120 - 10 * k)) for k in range(12)]
    assert schedule.total_interest == D("780.00")


def test_flat_interest_in_equal_installments():
    schedule = build_schedule(terms(interest_method="flat"))
    assert set(rows(schedule)) == {(D("1000.00"), D("120.00"), D("1120.00"))}
    assert (schedule.total_interest, schedule.total_payable) == (D("1440.00"), D("13440.00"))


def test_flat_interest_with_equal_principal_follows_each_periods_days():
    schedule = build_schedule(
        terms(
            interest_method="flat",
            amortization="equal_principal",
            day_count="actual/365",
            number_of_installments=3,
        )
    )
    # 12,000 x 12 % x 31/365, x 28/365 (February 2027), x 31/365: on the original principal.
    assert [i.interest for i in schedule.installments] == [D("122.30"), D("110.47"), D("122.30")]
    assert {i.principal for i in schedule.installments} == {D("4000.00")}


def test_an_annuity_on_a_declining_balance_splits_each_payment():
    schedule = build_schedule(terms(principal=D("10000.00")))
    first, second, last = (
        schedule.installments[0],
        schedule.installments[1],
        schedule.installments[-1],
    )
    assert (first.interest, first.principal, first.balance) == (
        D("100.00"),
        D("788.49"),
        D("9211.51"),
    )
    assert second.interest == D("92.12")  # 1 % of 9,211.51
    assert (last.total, last.balance) == (D("888.47"), D("0.00"))  # absorbs the rounding
    assert schedule.total_interest == D("661.86")


# --- frequencies and day counts ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("frequency", "day_count", "dates", "first_interest"),
    [
        # 3,000 x 12 % x 7/365
        ("weekly", "actual/365", [date(2027, 1, 22), date(2027, 1, 29), date(2027, 2, 5)], "6.90"),
        # 3,000 x 12 % x 14/360
        (
            "biweekly",
            "actual/360",
            [date(2027, 1, 29), date(2027, 2, 12), date(2027, 2, 26)],
            "14.00",
        ),
        # 3,000 x 12 % x 30/360
        ("monthly", "30/360", [date(2027, 2, 15), date(2027, 3, 15), date(2027, 4, 15)], "30.00"),
    ],
)
def test_each_frequency_falls_due_by_its_step(frequency, day_count, dates, first_interest):
    schedule = build_schedule(
        terms(
            principal=D("3000.00"),
            number_of_installments=3,
            repayment_frequency=frequency,
            day_count=day_count,
        )
    )
    assert [i.due_date for i in schedule.installments] == dates
    assert schedule.installments[0].interest == D(first_interest)


@pytest.mark.parametrize(
    ("day_count", "interest"),
    [
        ("actual/365", "92.05"),  # 10,000 x 12 % x 28/365
        ("actual/360", "93.33"),  # 10,000 x 12 % x 28/360
        ("30/360", "100.00"),  # a month is a month: 30/360
    ],
)
def test_each_day_count_over_february(day_count, interest):
    schedule = build_schedule(
        terms(principal=D("10000.00"), day_count=day_count, start_date=date(2027, 1, 31))
    )
    assert schedule.installments[0].due_date == date(2027, 2, 28)
    assert schedule.installments[0].interest == D(interest)


@pytest.mark.parametrize(
    ("start", "end", "days"),
    [
        (date(2027, 1, 15), date(2027, 2, 15), 30),
        (date(2027, 1, 31), date(2027, 2, 28), 30),  # month ends count as the 30th
        (date(2027, 2, 28), date(2027, 3, 31), 30),
        (date(2028, 1, 31), date(2028, 2, 29), 30),
        (date(2027, 2, 28), date(2027, 3, 1), 1),
        (date(2027, 1, 30), date(2027, 1, 31), 0),  # 30E/360: the 31st is the 30th
        (date(2027, 1, 1), date(2028, 1, 1), 360),
    ],
)
def test_30e_360_counts_month_ends_as_the_30th(start, end, days):
    assert day_count_days(start, end, "30/360") == days


def test_actual_day_counts_count_calendar_days_leap_years_included():
    assert day_count_days(date(2028, 1, 1), date(2029, 1, 1), "actual/365") == 366
    assert day_count_days(date(2027, 1, 1), date(2028, 1, 1), "actual/360") == 365
    assert accrued_interest(
        principal=D("10000.00"),
        annual_interest_rate=D(12),
        start=date(2028, 1, 1),
        end=date(2029, 1, 1),
        day_count="actual/365",
    ) == D("1203.29")  # 366 days of Actual/365 Fixed: a little over 12 %


# --- due dates --------------------------------------------------------------------------------


def test_a_loan_started_on_31_january_falls_due_on_each_month_end():
    dates = due_dates(terms(start_date=date(2027, 1, 31), number_of_installments=4))
    assert dates == [date(2027, 2, 28), date(2027, 3, 31), date(2027, 4, 30), date(2027, 5, 31)]


def test_in_a_leap_year_it_falls_due_on_29_february():
    dates = due_dates(terms(start_date=date(2028, 1, 31), number_of_installments=2))
    assert dates == [date(2028, 2, 29), date(2028, 3, 31)]


def test_a_loan_started_on_29_february_falls_due_on_28_february_the_next_year():
    dates = due_dates(terms(start_date=date(2028, 2, 29), number_of_installments=12))
    assert dates[0] == date(2028, 3, 29)
    assert dates[-1] == date(2029, 2, 28)


def test_a_first_repayment_date_anchors_the_due_dates_and_the_interest_start():
    only_first = terms(start_date=None, first_repayment_date=date(2028, 3, 31))
    assert only_first.interest_start == date(2028, 2, 29)  # a regular period before it
    assert due_dates(only_first)[:3] == [date(2028, 3, 31), date(2028, 4, 30), date(2028, 5, 31)]
    both = terms(start_date=date(2027, 1, 10), first_repayment_date=date(2027, 2, 28))
    assert both.interest_start == date(2027, 1, 10)
    assert due_dates(both)[:2] == [date(2027, 2, 28), date(2027, 3, 28)]
    # 30E/360 from 10 January to 28 February (a month end, so the 30th): 50 days.
    assert build_schedule(both).installments[0].interest == D("200.00")


def test_a_long_first_period_that_outweighs_the_installment_pays_interest_only():
    """37 days at 12 % on a 25-year loan cost more than its level installment: the first
    installment pays that interest only; the level installment is spread over the others."""
    mortgage = terms(
        principal=D("100000.00"),
        number_of_installments=300,
        day_count="actual/365",
        start_date=date(2027, 1, 1),
        first_repayment_date=date(2027, 2, 7),
    )
    schedule = build_schedule(mortgage)
    first, *middle, _ = schedule.installments
    assert (first.principal, first.interest) == (D("0.00"), D("1216.44"))  # 100,000 x 12 % x 37/365
    assert {i.total for i in middle} == {regular_amount(schedule, mortgage)}
    assert first.total > regular_amount(schedule, mortgage)
    assert schedule.principal == D("100000.00")


# --- grace, 0 %, one installment, rounding ----------------------------------------------------


def test_grace_installments_pay_interest_only_then_the_annuity_runs_over_the_rest():
    schedule = build_schedule(terms(number_of_installments=6, grace_installments=2))
    assert rows(schedule)[:2] == [(D("0.00"), D("120.00"), D("120.00"))] * 2
    # 12,000 over the 4 remaining months at 1 %: 3,075.37 by the closed form.
    assert [i.total for i in schedule.installments[2:5]] == [closed_form(D(12000), 12, 4)] * 3
    assert schedule.installments[-1].balance == 0


@pytest.mark.parametrize("method", ["declining_balance", "flat"])
@pytest.mark.parametrize("amortization", ["equal_installments", "equal_principal"])
def test_a_0_percent_loan_repays_the_principal_and_nothing_else(method, amortization):
    schedule = build_schedule(
        terms(
            principal=D("1000.00"),
            annual_interest_rate=D(0),
            number_of_installments=3,
            interest_method=method,
            amortization=amortization,
        )
    )
    assert rows(schedule) == [
        (D("333.33"), D("0.00"), D("333.33")),
        (D("333.33"), D("0.00"), D("333.33")),
        (D("333.34"), D("0.00"), D("333.34")),
    ]
    assert schedule.total_payable == D("1000.00")


@pytest.mark.parametrize("method", ["declining_balance", "flat"])
@pytest.mark.parametrize("amortization", ["equal_installments", "equal_principal"])
def test_a_one_installment_loan_repays_everything_on_its_due_date(method, amortization):
    schedule = build_schedule(
        terms(
            principal=D("1000.00"),
            number_of_installments=1,
            interest_method=method,
            amortization=amortization,
        )
    )
    assert rows(schedule) == [(D("1000.00"), D("10.00"), D("1010.00"))]
    assert schedule.maturity_date == date(2027, 2, 15)


@pytest.mark.parametrize("amortization", ["equal_installments", "equal_principal"])
def test_a_tiny_principal_is_rounded_down_so_the_last_installment_is_never_negative(amortization):
    """0.18 / 12 = 0.015 rounds half-even to 0.02, and 11 x 0.02 would exceed 0.18."""
    schedule = build_schedule(
        terms(principal=D("0.18"), annual_interest_rate=D(0), amortization=amortization)
    )
    assert [i.principal for i in schedule.installments] == [D("0.01")] * 11 + [D("0.07")]


def test_a_currency_without_minor_units_rounds_to_whole_units():
    schedule = build_schedule(terms(principal=D(1_200_000), minor_unit=0))
    assert schedule.installments[0].total == D(106619)  # 1,200,000 yen at 1 % a month
    assert all(i.total.as_tuple().exponent == 0 for i in schedule.installments)
    assert schedule.principal == D(1_200_000)


def test_the_callers_decimal_context_changes_nothing():
    loan = terms(principal=D("250000.00"), number_of_installments=360)
    expected = build_schedule(loan)
    with localcontext(prec=6, rounding=ROUND_DOWN):
        schedule = build_schedule(loan)
        assert schedule == expected
        assert schedule.total_payable == expected.total_payable
        assert accrued_interest(
            principal=D("250000.00"),
            annual_interest_rate=D(12),
            start=date(2027, 1, 15),
            end=date(2027, 2, 15),
            day_count="actual/365",
        ) == D("2547.95")  # 250,000 x 12 % x 31/365 = 2,547.945...


def test_interest_rounds_half_even():
    # 10,050 x 12 % x 30/360 = 100.50: half-even keeps 100.50; 2.5 cents round to the even 2.
    assert accrued_interest(
        principal=D("0.25"),
        annual_interest_rate=D(120),
        start=date(2027, 1, 15),
        end=date(2027, 2, 15),
        day_count="30/360",
    ) == D("0.02")
    assert accrued_interest(
        principal=D("0.35"),
        annual_interest_rate=D(120),
        start=date(2027, 1, 15),
        end=date(2027, 2, 15),
        day_count="30/360",
    ) == D("0.04")


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"principal": 1000.0}, "principal must be a Decimal"),
        ({"principal": "1000.00"}, "principal must be a Decimal"),
        ({"principal": D("0.00")}, "principal must be positive"),
        ({"principal": D("-5.00")}, "principal must be positive"),
        ({"principal": D("100.005")}, "more than 2 decimal places"),
        ({"principal": D("NaN")}, "finite"),
        ({"annual_interest_rate": D(-1)}, "must not be negative"),
        ({"annual_interest_rate": 12.5}, "annual_interest_rate must be a Decimal"),
        ({"number_of_installments": 0}, "number_of_installments must be at least 1"),
        ({"number_of_installments": True}, "must be an integer"),
        ({"grace_installments": 12}, "grace_installments must be between 0 and 11"),
        ({"grace_installments": -1}, "grace_installments must be between 0 and 11"),
        ({"repayment_frequency": "daily"}, "monthly, biweekly, weekly, not 'daily'"),
        ({"interest_method": "compound"}, "interest_method must be one of"),
        ({"amortization": "balloon"}, "amortization must be one of"),
        ({"day_count": "actual/actual"}, "actual/365, actual/360, 30/360"),
        ({"minor_unit": 7}, "minor_unit must be between 0 and 6"),
        ({"start_date": None}, "give first_repayment_date or start_date"),
        ({"start_date": datetime.datetime(2027, 1, 15, 9, 30)}, "start_date must be a date"),
        ({"first_repayment_date": date(2027, 1, 15)}, "must come after start_date"),
    ],
)
def test_invalid_terms_are_refused_with_a_clear_message(overrides, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        terms(**overrides)


@pytest.mark.parametrize("frequency", ["weekly", "biweekly", "monthly"])
@pytest.mark.parametrize(
    ("dates", "message"),
    [
        ({"start_date": date(9999, 6, 1)}, "start_date: .* after 9999-06-01 fall outside"),
        (
            {"start_date": None, "first_repayment_date": date(1, 1, 3)},
            "first_repayment_date: 1 .* before 0001-01-03 fall outside",
        ),
    ],
)
def test_due_dates_off_the_calendar_s_ends_are_a_value_error_naming_the_date(
    frequency, dates, message
):
    # Date arithmetic raises OverflowError (weeks) or a bare "year 10000 is out of range".
    with pytest.raises(ValueError, match=message):
        build_schedule(terms(repayment_frequency=frequency, number_of_installments=52, **dates))


def test_accrual_refuses_dates_out_of_order_and_negative_amounts():
    with pytest.raises(ValueError, match="must not be before start"):
        accrued_interest(
            principal=D(1),
            annual_interest_rate=D(1),
            start=date(2027, 2, 1),
            end=date(2027, 1, 1),
            day_count="actual/365",
        )
    with pytest.raises(ValueError, match="end must be a date"):
        accrued_interest(
            principal=D(1),
            annual_interest_rate=D(1),
            start=date(2027, 1, 1),
            end=datetime.datetime(2027, 2, 1, 12),
            day_count="actual/365",
        )
    with pytest.raises(ValueError, match="must not be negative"):
        accrued_interest(
            principal=D(-1),
            annual_interest_rate=D(1),
            start=date(2027, 1, 1),
            end=date(2027, 2, 1),
            day_count="actual/365",
        )


# --- accrual and rescheduling -----------------------------------------------------------------


def test_accrued_interest_to_a_payoff_date_between_due_dates():
    # After installment 1 of the 10,000 example, 9,211.51 is owed; ten days later under 30/360:
    assert accrued_interest(
        principal=D("9211.51"),
        annual_interest_rate=D(12),
        start=date(2027, 2, 15),
        end=date(2027, 2, 25),
        day_count="30/360",
    ) == D("30.71")  # 9,211.51 x 12 % x 10/360 = 30.705…


def paid_down(overpayment):
    """The 10,000 example after installment 6, with 2,000.00 more paid on its due date."""
    loan = terms(principal=D("10000.00"))
    sixth = build_schedule(loan).installments[5]
    assert sixth.balance == D("5149.20")
    return loan, reschedule(
        loan,
        outstanding_principal=sixth.balance - D("2000.00"),
        as_of=sixth.due_date,
        overpayment=overpayment,
    )


def test_an_overpayment_can_reduce_the_remaining_installments():
    loan, schedule = paid_down(Overpayment.REDUCE_INSTALLMENTS)
    assert [i.number for i in schedule.installments] == [7, 8, 9, 10, 11, 12]
    assert [i.due_date for i in schedule.installments] == due_dates(loan)[6:]
    assert schedule.installments[0].total == closed_form(D("3149.20"), 12, 6)  # 543.39
    assert schedule.principal == D("3149.20")


def test_an_overpayment_can_shorten_the_term_keeping_the_installment():
    loan, schedule = paid_down("shorten_term")
    # 3,149.20 at 888.49 a month takes four months; over four the level amount is 807.06.
    assert [i.number for i in schedule.installments] == [7, 8, 9, 10]
    assert schedule.installments[0].total == closed_form(D("3149.20"), 12, 4)
    assert regular_amount(schedule, loan) <= D("888.49") < closed_form(D("3149.20"), 12, 3)
    assert schedule.principal == D("3149.20")


def test_rescheduling_inside_the_grace_period_keeps_the_grace():
    loan = terms(number_of_installments=6, grace_installments=2)
    schedule = reschedule(
        loan,
        outstanding_principal=D("6000.00"),
        as_of=date(2027, 2, 15),
        overpayment="reduce_installments",
    )
    assert rows(schedule)[0] == (D("0.00"), D("60.00"), D("60.00"))  # installment 2: grace
    assert [i.number for i in schedule.installments] == [2, 3, 4, 5, 6]
    assert schedule.installments[1].total == closed_form(D(6000), 12, 4)


@pytest.mark.parametrize(
    ("outstanding", "as_of", "overpayment", "message"),
    [
        (D("0.00"), date(2027, 6, 15), "shorten_term", "nothing is left"),
        (D("100.00"), date(2028, 1, 15), "shorten_term", "no installment falls due after"),
        (D("100.00"), date(2027, 1, 1), "shorten_term", "before interest starts"),
        (D("100.001"), date(2027, 6, 15), "shorten_term", "more than 2 decimal places"),
        (D("100.00"), date(2027, 6, 15), "skip", "overpayment must be one of"),
        (D("100.00"), "2027-06-15", "shorten_term", "as_of must be a date"),
    ],
)
def test_rescheduling_refuses_what_cannot_be_scheduled(outstanding, as_of, overpayment, message):
    with pytest.raises(ValueError, match=message):
        reschedule(terms(), outstanding_principal=outstanding, as_of=as_of, overpayment=overpayment)
