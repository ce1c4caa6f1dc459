"""API schemas of lending: one component per shape `lending/serializers.py` returns (checked
against real responses by `tests/api/test_response_schemas.py`)."""

from core.api.schema import DECIMAL_PATTERN, component
from lending.models import Collateral, Installment, Loan, LoanProduct
from lending.rules import PRODUCT_FIELDS
from lending.schedule import Amortization, DayCount, Frequency, InterestMethod, Overpayment

_MONEY = {
    "type": "string",
    "pattern": DECIMAL_PATTERN,
    "description": 'Decimal string with the currency\'s minor-unit places (`"250.50"`).',
}
_PERCENT = {
    "type": "string",
    "pattern": DECIMAL_PATTERN,
    "description": 'Annual percent as a decimal string (`"12.5"` is 12.5 %).',
}
_DATE = {"type": "string", "format": "date"}
_NULLABLE_DATE = {"type": ["string", "null"], "format": "date"}
_DATE_TIME = {"type": "string", "format": "date-time"}
_UUID = {"type": "string", "format": "uuid"}
_COUNT = {"type": "integer", "minimum": 0}


def _enum(values):
    return {"type": "string", "enum": [str(value) for value in values]}


# Shared by responses, request bodies and query parameters (see `core.api.openapi`).
REPAYMENT_FREQUENCY = component("RepaymentFrequency", _enum(Frequency))
INTEREST_METHOD = component("InterestMethod", _enum(InterestMethod))
AMORTIZATION = component("Amortization", _enum(Amortization))
DAY_COUNT = component("DayCount", _enum(DayCount))
OVERPAYMENT_RULE = component("OverpaymentRule", _enum(Overpayment))
ORIGINATION_FEE_TYPE = component("OriginationFeeType", _enum(LoanProduct.FeeType.values))
PENALTY_TYPE = component("PenaltyType", _enum(LoanProduct.PenaltyType.values))
LOAN_STATUS = component("LoanStatus", _enum(Loan.Status.values))
INSTALLMENT_STATUS = component("InstallmentStatus", _enum(Installment.Status.values))
COLLATERAL_TYPE = component("CollateralType", _enum(Collateral.Type.values))
ALLOCATION_COMPONENT = component(
    "AllocationComponent", _enum(("penalties", "fees", "interest", "principal"))
)

LOAN_PRODUCT = component(
    "LoanProduct",
    {
        "type": "object",
        "description": "A loan product and the limits an application must keep within.",
        "required": ["reference", *PRODUCT_FIELDS],
        "properties": {
            "reference": {"type": "string"},
            "name": {"type": "string"},
            "currency": {"type": "string", "description": "ISO 4217 code; loans are lent in it."},
            "min_principal": _MONEY,
            "max_principal": _MONEY,
            "min_interest_rate": _PERCENT,
            "max_interest_rate": _PERCENT,
            "min_installments": {"type": "integer", "minimum": 1},
            "max_installments": {"type": "integer", "minimum": 1},
            "repayment_frequencies": {
                "type": "array",
                "description": "The frequencies an application may choose.",
                "items": REPAYMENT_FREQUENCY,
            },
            "interest_method": INTEREST_METHOD,
            "amortization": AMORTIZATION,
            "day_count": DAY_COUNT,
            "grace_installments": {
                **_COUNT,
                "description": "The first installments pay interest only.",
            },
            "origination_fee_type": ORIGINATION_FEE_TYPE,
            "origination_fee": {
                "type": "string",
                "pattern": DECIMAL_PATTERN,
                "description": "An amount (`flat`) or a percent of the principal (`percent`), "
                "charged at disbursement; `0` with `none`.",
            },
            "penalty_type": PENALTY_TYPE,
            "penalty_amount": {**_MONEY, "description": "Per missed installment (`flat`)."},
            "penalty_rate": {
                **_PERCENT,
                "description": "Annual percent on the overdue amount, per day late (`rate`).",
            },
            "penalty_tolerance_days": {
                **_COUNT,
                "description": "Days late before a penalty is charged.",
            },
            "allocation_order": {
                "type": "array",
                "description": "The order in which a repayment pays what is due.",
                "items": ALLOCATION_COMPONENT,
            },
            "overpayment": OVERPAYMENT_RULE,
            "is_active": {"type": "boolean", "description": "False: no longer offered."},
        },
    },
)

_AMOUNTS = ("penalties", "fees", "interest", "principal")

OUTSTANDING = component(
    "LoanOutstanding",
    {
        "type": "object",
        "description": "What the loan's installments still owe (nothing before disbursement).",
        "required": [*_AMOUNTS, "total"],
        "properties": {name: _MONEY for name in (*_AMOUNTS, "total")},
    },
)

LOAN = component(
    "Loan",
    {
        "type": "object",
        "required": [
            "reference",
            "customer",
            "product",
            "account",
            "currency",
            "principal",
            "annual_interest_rate",
            "number_of_installments",
            "repayment_frequency",
            "interest_method",
            "amortization",
            "day_count",
            "grace_installments",
            "start_date",
            "first_repayment_date",
            "status",
            "submitted_on",
            "approved_on",
            "decided_on",
            "decision_reason",
            "disbursed_on",
            "maturity_date",
            "closed_on",
            "written_off_on",
            "outstanding",
            "days_past_due",
            "loan_to_value",
        ],
        "properties": {
            "reference": {"type": "string"},
            "customer": {"type": "string", "description": "Reference of the borrower."},
            "product": {"type": "string", "description": "Reference of the loan product."},
            "account": {
                "type": "string",
                "description": "Reference of the deposit account the loan is paid into and "
                "repaid from.",
            },
            "currency": {"type": "string", "description": "ISO 4217 code (the product's)."},
            "principal": _MONEY,
            "annual_interest_rate": _PERCENT,
            "number_of_installments": {"type": "integer", "minimum": 1},
            "repayment_frequency": REPAYMENT_FREQUENCY,
            "interest_method": INTEREST_METHOD,
            "amortization": AMORTIZATION,
            "day_count": DAY_COUNT,
            "grace_installments": _COUNT,
            "start_date": {
                **_NULLABLE_DATE,
                "description": "Interest runs from it: the disbursement date once disbursed.",
            },
            "first_repayment_date": _NULLABLE_DATE,
            "status": LOAN_STATUS,
            "submitted_on": _DATE,
            "approved_on": _NULLABLE_DATE,
            "decided_on": {
                **_NULLABLE_DATE,
                "description": "When the application was rejected or withdrawn.",
            },
            "decision_reason": {"type": "string", "description": "Why it was rejected."},
            "disbursed_on": _NULLABLE_DATE,
            "maturity_date": {**_NULLABLE_DATE, "description": "The last due date."},
            "closed_on": _NULLABLE_DATE,
            "written_off_on": _NULLABLE_DATE,
            "outstanding": OUTSTANDING,
            "days_past_due": {
                **_COUNT,
                "description": "Days since the oldest unpaid installment fell due (close of day).",
            },
            "loan_to_value": {
                "type": ["string", "null"],
                "pattern": DECIMAL_PATTERN,
                "description": "Principal outstanding (before disbursement: the principal) over "
                "the value of the collateral in the loan's currency, as a ratio to 4 places "
                '("0.8" is 80 %); null when no collateral in that currency secures the loan.',
            },
        },
    },
)

INSTALLMENT = component(
    "Installment",
    {
        "type": "object",
        "required": [
            "number",
            "due_date",
            "principal",
            "interest",
            "fees",
            "penalties",
            "total",
            "paid",
            "status",
        ],
        "properties": {
            "number": {"type": "integer", "minimum": 1},
            "due_date": _DATE,
            "principal": _MONEY,
            "interest": _MONEY,
            "fees": _MONEY,
            "penalties": _MONEY,
            "total": {**_MONEY, "description": "principal + interest + fees + penalties."},
            "paid": {**_MONEY, "description": "What repayments have paid of `total`."},
            "status": INSTALLMENT_STATUS,
        },
    },
)

LOAN_QUOTE = component(
    "LoanQuote",
    {
        "type": "object",
        "description": "The schedule the terms would have; nothing is stored.",
        "required": [
            "currency",
            "installments",
            "total_interest",
            "total_payable",
            "origination_fee",
        ],
        "properties": {
            "currency": {"type": "string"},
            "installments": {"type": "array", "items": INSTALLMENT},
            "total_interest": _MONEY,
            "total_payable": {**_MONEY, "description": "Principal plus interest."},
            "origination_fee": {
                **_MONEY,
                "description": "Charged on the account at disbursement, apart from the "
                "installments.",
            },
        },
    },
)

ALLOCATION = component(
    "RepaymentAllocation",
    {
        "type": "object",
        "description": "What the payment paid of each component.",
        "required": list(_AMOUNTS),
        "properties": {name: _MONEY for name in _AMOUNTS},
    },
)

REPAYMENT = component(
    "Repayment",
    {
        "type": "object",
        "required": ["id", "amount", "received_on", "allocation", "loan"],
        "properties": {
            "id": _UUID,
            "amount": _MONEY,
            "received_on": _DATE,
            "allocation": ALLOCATION,
            "loan": LOAN,  # after the payment
        },
    },
)

PAYOFF = component(
    "LoanPayoff",
    {
        "type": "object",
        "description": "What closes the loan on `date`; all zero unless the loan is active.",
        "required": ["date", "currency", *_AMOUNTS, "total"],
        "properties": {
            "date": _DATE,
            "currency": {"type": "string"},
            "principal": {**_MONEY, "description": "Principal outstanding."},
            "interest": {
                **_MONEY,
                "description": "Interest due and unpaid, and accrued to `date` by the loan's "
                "day count.",
            },
            "fees": _MONEY,
            "penalties": _MONEY,
            "total": _MONEY,
        },
    },
)

COLLATERAL = component(
    "Collateral",
    {
        "type": "object",
        "required": [
            "id",
            "type",
            "description",
            "value",
            "currency",
            "valuation_date",
            "guarantor",
            "created_at",
        ],
        "properties": {
            "id": _UUID,
            "type": COLLATERAL_TYPE,
            "description": {"type": "string"},
            "value": {**_MONEY, "description": "In `currency`."},
            "currency": {"type": "string"},
            "valuation_date": _DATE,
            "guarantor": {
                "type": ["string", "null"],
                "description": "Reference of the guarantor (a guarantee); else null.",
            },
            "created_at": _DATE_TIME,
        },
    },
)
