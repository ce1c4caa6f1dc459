"""Portfolio at risk on a known portfolio, worked by hand."""

from datetime import date, timedelta
from decimal import Decimal

from core.context import tenant_context
from lending.models import Loan
from lending.reports import portfolio_at_risk
from tests.lending.loan_rows import active_loan, loan_product

ON = date(2027, 6, 30)


def late(days):
    """A due date `days` days before ON."""
    return ON - timedelta(days=days)


def figures(row):
    return (
        row.name,
        row.currency,
        row.loans,
        row.outstanding,
        [row.at_risk[n] for n in (1, 30, 60, 90)],
        [row.ratio(n) for n in (1, 30, 60, 90)],
    )


def test_par_per_product_and_per_currency_on_a_known_portfolio(
    tenant, other_tenant, django_assert_num_queries
):
    cars = loan_product(tenant, name="Car")
    homes = loan_product(tenant, name="Home")
    dollars = loan_product(tenant, name="Dollar", currency="USD")
    # Car, outstanding principal 2,000.00: 600.00 paid on time and due tomorrow; 500.00 due
    # today, not late yet; 300.00 1 day late; 400.00 45 days late; 200.00 (of 300.00, 100.00
    # paid) 100 days late.
    active_loan(cars, dues=[late(40), ON + timedelta(days=1)], principal="600.00", paid=1)
    active_loan(cars, dues=[ON], principal="500.00")
    active_loan(cars, dues=[late(1)], principal="300.00")
    active_loan(cars, dues=[late(45), late(10)], principal="200.00")
    active_loan(cars, dues=[late(100)], principal="300.00", partly_paid=Decimal("110.00"))
    # Home, outstanding 500.00: 100.00 exactly 60 days late.
    active_loan(homes, dues=[ON + timedelta(days=30)], principal="400.00")
    active_loan(homes, dues=[late(60)], principal="100.00")
    # USD: its own total.
    active_loan(dollars, dues=[late(90)], principal="50.00")
    # Not in the portfolio: closed, written off, disbursed after the date, another tenant's.
    active_loan(cars, dues=[late(200)], status=Loan.Status.WRITTEN_OFF)
    active_loan(cars, dues=[late(200)], paid=1, status=Loan.Status.CLOSED)
    active_loan(cars, dues=[ON + timedelta(days=40)], disbursed_on=ON + timedelta(days=1))
    active_loan(loan_product(other_tenant), dues=[late(100)])

    with tenant_context(tenant), django_assert_num_queries(1):
        report = portfolio_at_risk(on=ON)

    assert report.on == ON
    assert [figures(row) for row in report.products] == [
        (
            "Car",
            "EUR",
            5,
            Decimal("2000.00"),
            # PAR 1: 300 + 400 + 200; PAR 30: 400 + 200; PAR 60 and 90: 200.
            [Decimal("900.00"), Decimal("600.00"), Decimal("200.00"), Decimal("200.00")],
            [Decimal("45.00"), Decimal("30.00"), Decimal("10.00"), Decimal("10.00")],
        ),
        (
            "Dollar",
            "USD",
            1,
            Decimal("50.00"),
            [Decimal("50.00")] * 4,
            [Decimal("100.00")] * 4,
        ),
        (
            "Home",
            "EUR",
            2,
            Decimal("500.00"),
            [Decimal("100.00"), Decimal("100.00"), Decimal("100.00"), Decimal("0")],
            [Decimal("20.00"), Decimal("20.00"), Decimal("20.00"), Decimal("0.00")],
        ),
    ]
    assert [figures(row) for row in report.totals] == [
        (
            "Total EUR",
            "EUR",
            7,
            Decimal("2500.00"),
            [Decimal("1000.00"), Decimal("700.00"), Decimal("300.00"), Decimal("200.00")],
            [Decimal("40.00"), Decimal("28.00"), Decimal("12.00"), Decimal("8.00")],
        ),
        ("Total USD", "USD", 1, Decimal("50.00"), [Decimal("50.00")] * 4, [Decimal("100.00")] * 4),
    ]


def test_an_earlier_date_counts_fewer_days_late(tenant):
    product = loan_product(tenant)
    active_loan(product, dues=[late(45)], principal="100.00")
    with tenant_context(tenant):
        then = portfolio_at_risk(on=ON - timedelta(days=20)).products[0]  # 25 days late then
        before_due = portfolio_at_risk(on=late(45)).products[0]
    assert [then.at_risk[n] for n in (1, 30)] == [Decimal("100.00"), Decimal("0")]
    assert before_due.at_risk[1] == 0 and before_due.outstanding == Decimal("100.00")


def test_an_empty_portfolio(tenant):
    with tenant_context(tenant):
        report = portfolio_at_risk(on=ON)
    assert report.products == report.totals == []
