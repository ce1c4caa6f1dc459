"""Loan products: created and changed through the services, every field checked, history kept;
quotes store nothing."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from core.context import tenant_context
from lending import services
from lending.models import Loan, LoanProduct
from tests.lending.factories import PRODUCT, make_loan, make_product

D = Decimal


def test_a_product_gets_a_reference_defaults_and_history(tenant):
    product = make_product(tenant)
    with tenant_context(tenant):
        assert product.reference == "LPR-000001"
        assert product.allocation_order == ["penalties", "fees", "interest", "principal"]
        assert (product.overpayment, product.origination_fee_type) == (
            "reduce_installments",
            "none",
        )
        services.update_product(product=product, changes={"max_principal": "20000.00"}, by="ops")
        services.update_product(product=product, changes={"max_principal": "20000.00"})
        rows = LoanProduct.history.filter(id=product.pk).order_by("history_id")
        assert [(r.action, r.actor) for r in rows] == [("create", "user:clerk"), ("update", "ops")]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"min_principal": D("0")}, "min_principal"),
        ({"max_principal": D("10.00")}, "max_principal"),
        ({"min_principal": D("1.001")}, "min_principal"),
        ({"max_interest_rate": 1.5}, "max_interest_rate"),
        ({"min_installments": 0}, "min_installments"),
        ({"repayment_frequencies": ["daily"]}, "repayment_frequencies"),
        ({"allocation_order": ["principal", "interest"]}, "allocation_order"),
        ({"day_count": "actual/actual"}, "day_count"),
        ({"origination_fee_type": "flat"}, "origination_fee"),
        ({"origination_fee_type": "percent", "origination_fee": D("101")}, "origination_fee"),
        ({"penalty_type": "rate"}, "penalty_rate"),
        ({"penalty_amount": D("5.00")}, "penalty_amount"),
        ({"grace_installments": 1}, "grace_installments"),
        ({"currency": "XXZ"}, "currency"),
    ],
)
def test_a_product_refuses_bad_fields_naming_them(tenant, fields, field):
    with tenant_context(tenant), pytest.raises(ValidationError) as refused:
        services.create_product(**{"currency": "EUR", **PRODUCT, **fields})
    assert field in refused.value.message_dict


def test_a_product_with_loans_keeps_its_currency(tenant):
    loan = make_loan(tenant)
    with tenant_context(tenant), pytest.raises(ValidationError) as refused:
        services.update_product(product=loan.product, changes={"currency": "USD"})
    assert "currency" in refused.value.message_dict


def test_a_quote_stores_nothing(tenant):
    product = make_product(tenant)
    with tenant_context(tenant):
        schedule = services.quote(
            product=product,
            principal="1200.00",
            annual_interest_rate="12",
            number_of_installments=12,
            repayment_frequency="monthly",
            start_date=datetime.date(2026, 1, 15),
        )
        assert schedule.installments[0].total == D("106.62")
        assert not Loan.all_objects.exists()


@pytest.mark.parametrize(
    ("dates", "field"),
    [
        ({"start_date": datetime.date(9999, 6, 1)}, "start_date"),
        ({"first_repayment_date": datetime.date(1, 1, 3)}, "first_repayment_date"),
    ],
)
def test_a_quote_off_the_calendar_s_ends_names_the_date(tenant, dates, field):
    with tenant_context(tenant), pytest.raises(ValidationError) as refused:
        services.quote(
            product=make_product(tenant),
            principal="1200.00",
            annual_interest_rate="12",
            number_of_installments=52,
            repayment_frequency="weekly",
            **dates,
        )
    [message] = refused.value.message_dict[field]
    assert "fall outside the calendar" in message and str(dates[field]) in message
