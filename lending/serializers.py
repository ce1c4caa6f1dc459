"""Explicit JSON shapes of loan products, loans, installments, quotes, repayments, payoffs and
collateral (schemas: `schemas.py`).

Money is a string with the currency's minor-unit places (`"250.50"`, JPY `"250"`); rates and
percentages are plain decimals (`"12.5"`).
"""

from decimal import Decimal

from accounts.currencies import format_amount as money
from core.decimals import plain_decimal
from lending.models import COMPONENTS, Installment, LoanProduct
from lending.selectors import loan_to_value

ZERO = Decimal(0)


def product_json(product):
    currency = product.currency
    fee = product.origination_fee
    return {
        "reference": product.reference,
        "name": product.name,
        "currency": currency,
        "min_principal": money(product.min_principal, currency),
        "max_principal": money(product.max_principal, currency),
        "min_interest_rate": plain_decimal(product.min_interest_rate),
        "max_interest_rate": plain_decimal(product.max_interest_rate),
        "min_installments": product.min_installments,
        "max_installments": product.max_installments,
        "repayment_frequencies": product.repayment_frequencies,
        "interest_method": product.interest_method,
        "amortization": product.amortization,
        "day_count": product.day_count,
        "grace_installments": product.grace_installments,
        "origination_fee_type": product.origination_fee_type,
        "origination_fee": plain_decimal(fee)
        if product.origination_fee_type == LoanProduct.FeeType.PERCENT
        else money(fee, currency),
        "penalty_type": product.penalty_type,
        "penalty_amount": money(product.penalty_amount, currency),
        "penalty_rate": plain_decimal(product.penalty_rate),
        "penalty_tolerance_days": product.penalty_tolerance_days,
        "allocation_order": product.allocation_order,
        "overpayment": product.overpayment,
        "is_active": product.is_active,
    }


def loan_json(loan):
    """A loan read with its outstanding amounts and collateral value annotated
    (`lending.selectors.get_loan`, `loans`, `loan_as_of`) and its customer, product and account
    joined."""
    currency = loan.currency
    outstanding = {c: getattr(loan, f"outstanding_{c}") for c in (*COMPONENTS, "total")}
    return {
        "reference": loan.reference,
        "customer": loan.customer.reference,
        "product": loan.product.reference,
        "account": loan.account.reference,
        "currency": currency,
        "principal": money(loan.principal, currency),
        "annual_interest_rate": plain_decimal(loan.annual_interest_rate),
        "number_of_installments": loan.number_of_installments,
        "repayment_frequency": loan.repayment_frequency,
        "interest_method": loan.interest_method,
        "amortization": loan.amortization,
        "day_count": loan.day_count,
        "grace_installments": loan.grace_installments,
        "start_date": loan.start_date,
        "first_repayment_date": loan.first_repayment_date,
        "status": loan.status,
        "submitted_on": loan.submitted_on,
        "approved_on": loan.approved_on,
        "decided_on": loan.decided_on,
        "decision_reason": loan.decision_reason,
        "disbursed_on": loan.disbursed_on,
        "maturity_date": loan.maturity_date,
        "closed_on": loan.closed_on,
        "written_off_on": loan.written_off_on,
        "outstanding": {name: money(value, currency) for name, value in outstanding.items()},
        "days_past_due": loan.days_past_due,
        "loan_to_value": plain_decimal(loan_to_value(loan)),
    }


def installment_json(installment, currency):
    """A stored installment, or one of a quote's (`lending.schedule.Installment`: nothing
    paid, no penalties, pending)."""
    penalties = getattr(installment, "penalties", ZERO)
    total = installment.principal + installment.interest + installment.fees + penalties
    return {
        "number": installment.number,
        "due_date": installment.due_date,
        "principal": money(installment.principal, currency),
        "interest": money(installment.interest, currency),
        "fees": money(installment.fees, currency),
        "penalties": money(penalties, currency),
        "total": money(total, currency),
        "paid": money(getattr(installment, "paid", ZERO), currency),
        "status": getattr(installment, "status", Installment.Status.PENDING),
    }


def quote_json(schedule, currency, origination_fee):
    return {
        "currency": currency,
        "installments": [installment_json(i, currency) for i in schedule.installments],
        "total_interest": money(schedule.total_interest, currency),
        "total_payable": money(schedule.total_payable, currency),
        "origination_fee": money(origination_fee, currency),
    }


def repayment_json(repayment, loan):
    """`loan` as it is after the payment (read again, with its outstanding amounts)."""
    currency = loan.currency
    return {
        "id": repayment.public_id,
        "amount": money(repayment.amount, currency),
        "received_on": repayment.received_on,
        "allocation": {c: money(getattr(repayment, c), currency) for c in COMPONENTS},
        "loan": loan_json(loan),
    }


def payoff_json(payoff, *, on, currency):
    return {
        "date": on,
        "currency": currency,
        **{name: money(value, currency) for name, value in payoff.items()},
    }


def collateral_json(collateral):
    return {
        "id": collateral.public_id,
        "type": collateral.type,
        "description": collateral.description,
        "value": money(collateral.value, collateral.currency),
        "currency": collateral.currency,
        "valuation_date": collateral.valuation_date,
        "guarantor": collateral.guarantor.reference if collateral.guarantor else None,
        "created_at": collateral.created_at,
    }
