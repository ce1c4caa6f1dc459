"""Business rules of lending, each written once: forms and the API call them for field errors,
services call them again under the loan's row lock.

Input rules raise Django's `ValidationError` naming the field. A loan's terms outside its
product's limits raise `TermsViolation` (a `RuleViolation`, 422) whose `field` names the term
and whose message names the limit. An illegal step of the lifecycle is a `Conflict`; the
four-eyes rule a `Forbidden`.
"""

from decimal import Decimal

from django.core.exceptions import ValidationError

from accounts import currencies
from accounts.models import Account
from core.errors import Conflict, Forbidden, RuleViolation
from customers.models import Customer
from lending.models import COMPONENTS, Collateral, Loan, LoanProduct
from lending.schedule import Amortization, DayCount, Frequency, InterestMethod, Overpayment

Status = Loan.Status
ZERO = Decimal(0)

# Where each step may take a loan from, and where it takes it.
TRANSITIONS = {
    "approve": ({Status.PENDING_APPROVAL}, Status.APPROVED),
    "reject": ({Status.PENDING_APPROVAL}, Status.REJECTED),
    "withdraw": ({Status.PENDING_APPROVAL, Status.APPROVED}, Status.WITHDRAWN),
    "disburse": ({Status.APPROVED}, Status.ACTIVE),
    "repay": ({Status.ACTIVE}, Status.ACTIVE),
    "close": ({Status.ACTIVE}, Status.CLOSED),  # by the repayment that leaves nothing owed
    "write off": ({Status.ACTIVE}, Status.WRITTEN_OFF),
}
# A loan in one of these still binds its customer and account.
OPEN_STATUSES = (Status.PENDING_APPROVAL, Status.APPROVED, Status.ACTIVE)


class TermsViolation(RuleViolation):
    """A term outside the product's limits; `field` names the term (`principal`)."""

    def __init__(self, field, message):
        super().__init__(message)
        self.field = field


# --- products ---------------------------------------------------------------------------------

# A product's settings, in the order forms and documents show them.
PRODUCT_FIELDS = (
    "name",
    "currency",
    "min_principal",
    "max_principal",
    "min_interest_rate",
    "max_interest_rate",
    "min_installments",
    "max_installments",
    "repayment_frequencies",
    "interest_method",
    "amortization",
    "day_count",
    "grace_installments",
    "origination_fee_type",
    "origination_fee",
    "penalty_type",
    "penalty_amount",
    "penalty_rate",
    "penalty_tolerance_days",
    "allocation_order",
    "overpayment",
    "is_active",
)
_CHOICES = {
    "interest_method": [m.value for m in InterestMethod],
    "amortization": [m.value for m in Amortization],
    "day_count": [m.value for m in DayCount],
    "overpayment": [m.value for m in Overpayment],
    "origination_fee_type": LoanProduct.FeeType.values,
    "penalty_type": LoanProduct.PenaltyType.values,
}


def _decimal(field, value, *, places=None):
    if isinstance(value, float | bool) or value is None:
        raise ValidationError({field: 'Give a decimal string, such as "10.50".'})
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        raise ValidationError({field: "Enter a decimal number."}) from None
    if not number.is_finite() or number < 0:
        raise ValidationError({field: "Enter a number of zero or more."})
    if places is not None and number != number.quantize(Decimal(1).scaleb(-places)):
        raise ValidationError({field: f"Use at most {places} decimal places."})
    return number


def _integer(field, value, *, low=0):
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValidationError({field: f"Enter a whole number of at least {low}."})
    return value


def clean_money(field, value, currency):
    """An amount of zero or more in `currency`'s minor unit."""
    return currencies.quantize(
        _decimal(field, value, places=currencies.minor_unit(currency)), currency
    )


def clean_product(values):
    """The product's fields, checked together; ValidationError naming each field at fault."""
    cleaned, errors = dict(values), {}

    def check(field, clean):
        try:
            cleaned[field] = clean(values[field])
        except ValidationError as error:
            errors.update(error.message_dict)

    if not (values.get("name") or "").strip():
        errors["name"] = ["Name the product."]
    try:
        currencies.validate_currency(values.get("currency"))
        currency = values["currency"]
    except ValidationError as error:
        errors["currency"] = error.messages
        currency = "EUR"  # to check the amounts' form all the same
    for field in ("min_principal", "max_principal", "origination_fee", "penalty_amount"):
        if field == "origination_fee" and values.get("origination_fee_type") == "percent":
            check(field, lambda v: _decimal("origination_fee", v, places=4))
        else:
            check(field, lambda v, f=field: clean_money(f, v, currency))
    for field in ("min_interest_rate", "max_interest_rate", "penalty_rate"):
        check(field, lambda v, f=field: _decimal(f, v, places=4))
    for field in ("min_installments", "max_installments"):
        check(field, lambda v, f=field: _integer(f, v, low=1))
    for field in ("grace_installments", "penalty_tolerance_days"):
        check(field, lambda v, f=field: _integer(f, v))
    for field, allowed in _CHOICES.items():
        if values.get(field) not in allowed:
            errors[field] = [f"Choose one of: {', '.join(allowed)}."]
    frequencies = values.get("repayment_frequencies")
    allowed = [m.value for m in Frequency]
    if not frequencies or not isinstance(frequencies, list | tuple):
        errors["repayment_frequencies"] = [f"List one or more of: {', '.join(allowed)}."]
    elif any(f not in allowed for f in frequencies) or len(set(frequencies)) != len(frequencies):
        errors["repayment_frequencies"] = [f"List each of {', '.join(allowed)} at most once."]
    order = values.get("allocation_order")
    if not isinstance(order, list | tuple) or sorted(order) != sorted(COMPONENTS):
        errors["allocation_order"] = [f"Order all of: {', '.join(COMPONENTS)}, each once."]
    if not errors:
        _check_ranges(cleaned, errors)
    if errors:
        raise ValidationError(errors)
    cleaned["repayment_frequencies"] = list(frequencies)
    cleaned["allocation_order"] = list(order)
    return cleaned


def _check_ranges(v, errors):
    if v["min_principal"] <= 0:
        errors["min_principal"] = ["The minimum principal must be more than zero."]
    if v["max_principal"] < v["min_principal"]:
        errors["max_principal"] = ["The maximum principal is below the minimum."]
    if v["max_interest_rate"] < v["min_interest_rate"]:
        errors["max_interest_rate"] = ["The maximum rate is below the minimum."]
    if v["max_installments"] < v["min_installments"]:
        errors["max_installments"] = ["The maximum number of installments is below the minimum."]
    if v["grace_installments"] >= v["min_installments"]:
        errors["grace_installments"] = ["Grace must leave at least one installment to repay."]
    fee_type = v["origination_fee_type"]
    if fee_type == "none" and v["origination_fee"]:
        errors["origination_fee"] = ["No fee is charged with a fee type of none."]
    if fee_type != "none" and not v["origination_fee"]:
        errors["origination_fee"] = ["Give the fee."]
    if fee_type == "percent" and v["origination_fee"] > 100:
        errors["origination_fee"] = ["A percent fee is at most 100."]
    penalty = v["penalty_type"]
    if penalty != "flat" and v["penalty_amount"]:
        errors["penalty_amount"] = ["Only a flat penalty has an amount."]
    if penalty != "rate" and v["penalty_rate"]:
        errors["penalty_rate"] = ["Only a rate penalty has a rate."]
    if penalty == "flat" and not v["penalty_amount"]:
        errors["penalty_amount"] = ["Give the penalty per missed installment."]
    if penalty == "rate" and not v["penalty_rate"]:
        errors["penalty_rate"] = ["Give the penalty's annual rate."]


# --- applications -----------------------------------------------------------------------------


def clean_terms(
    *, product, principal, annual_interest_rate, number_of_installments, repayment_frequency
):
    """The terms of an application, checked against the product's limits: (principal, rate,
    installments, frequency). Malformed input is a ValidationError; a well-formed term outside
    a limit a TermsViolation naming both."""
    currency = product.currency
    principal = currencies.parse_amount(principal, currency, field="principal")
    rate = _decimal("annual_interest_rate", annual_interest_rate, places=4)
    installments = _integer("number_of_installments", number_of_installments, low=1)
    if not product.is_active or product.is_deleted:
        raise RuleViolation(f"{product.reference} is no longer offered.")

    def money(value):
        return f"{currencies.format_amount(value, currency)} {currency}"

    limits = (
        ("principal", principal, product.min_principal, product.max_principal, money),
        ("annual_interest_rate", rate, product.min_interest_rate, product.max_interest_rate,
         lambda v: f"{v.normalize():f} %"),
        ("number_of_installments", installments, product.min_installments,
         product.max_installments, str),
    )  # fmt: skip
    for field, value, low, high, show in limits:
        if value < low:
            raise TermsViolation(
                field, f"{field} {show(value)} is below the product's minimum of {show(low)}."
            )
        if value > high:
            raise TermsViolation(
                field, f"{field} {show(value)} is above the product's maximum of {show(high)}."
            )
    if repayment_frequency not in product.repayment_frequencies:
        raise TermsViolation(
            "repayment_frequency",
            f"repayment_frequency {repayment_frequency!r} is not offered by {product.reference} "
            f"(offered: {', '.join(product.repayment_frequencies)}).",
        )
    if product.grace_installments >= installments:
        raise TermsViolation(
            "number_of_installments",
            f"number_of_installments must exceed the product's {product.grace_installments} "
            "grace installments.",
        )
    return principal, rate, installments, repayment_frequency


def check_borrower(customer, account, product):
    """An active, KYC-verified customer borrowing into its own active account in the
    product's currency."""
    if customer.is_deleted or customer.status != Customer.Status.ACTIVE:
        raise RuleViolation(
            f"{customer.reference} cannot borrow: it is "
            f"{'deleted' if customer.is_deleted else customer.status}, not active."
        )
    if customer.kyc_status != Customer.KycStatus.VERIFIED:
        raise RuleViolation(
            f"{customer.reference} cannot borrow: its KYC is {customer.kyc_status}, not verified."
        )
    if account.customer_id != customer.pk:
        raise TermsViolation("account", f"{account.reference} does not belong to the borrower.")
    if account.is_deleted or account.status != Account.Status.ACTIVE:
        raise TermsViolation("account", f"{account.reference} is {account.status}, not active.")
    if account.currency != product.currency:
        raise TermsViolation(
            "account",
            f"{account.reference} holds {account.currency}; {product.reference} lends in "
            f"{product.currency}.",
        )


# --- lifecycle --------------------------------------------------------------------------------


def check_transition(loan, step):
    """The status `step` takes the loan to, or Conflict when it cannot from its status."""
    sources, target = TRANSITIONS[step]
    if loan.status not in sources:
        raise Conflict(f"{loan.reference} is {loan.status}; it cannot {step}.")
    return target


def check_four_eyes(loan, actor):
    """The application is decided by someone else than who submitted it (staff user or
    partner key, compared by their audit labels)."""
    if actor == loan.submitted_by:
        raise Forbidden(
            f"Four-eyes rule: {actor} submitted {loan.reference} and cannot also decide it."
        )


def origination_fee(product, principal):
    """The fee charged at disbursement, in the product's currency (half-even)."""
    if product.origination_fee_type == LoanProduct.FeeType.FLAT:
        return product.origination_fee
    if product.origination_fee_type == LoanProduct.FeeType.PERCENT:
        return currencies.quantize(principal * product.origination_fee / 100, product.currency)
    return ZERO


def open_loans_of(customer):
    """Closure check of customers (customers.blockers): its loans not yet ended."""
    references = Loan.objects.filter(customer=customer, status__in=OPEN_STATUSES).values_list(
        "reference", "status"
    )
    return [f"loan {reference} is {status}" for reference, status in references]


def open_loans_on(account):
    """Closure check of accounts (accounts.blockers): loans paid into or from the account."""
    references = Loan.objects.filter(account=account, status__in=OPEN_STATUSES).values_list(
        "reference", "status"
    )
    return [f"loan {reference} is {status}" for reference, status in references]


# --- repayments -------------------------------------------------------------------------------


def check_received_on(loan, received_on, *, today, last_received_on):
    """A payment is dated between the disbursement (or the last payment) and today."""
    if received_on > today:
        raise ValidationError({"received_on": "A repayment cannot be dated in the future."})
    earliest = max(filter(None, (loan.disbursed_on, last_received_on)))
    if received_on < earliest:
        raise ValidationError(
            {
                "received_on": f"A repayment of {loan.reference} is dated on or after "
                f"{earliest} (its disbursement or its last repayment)."
            }
        )


def check_not_above_payoff(loan, amount, payoff_total):
    if amount > payoff_total:
        raise TermsViolation(
            "amount",
            f"{currencies.format_amount(amount, loan.currency)} {loan.currency} is more than "
            f"the {currencies.format_amount(payoff_total, loan.currency)} that closes "
            f"{loan.reference}.",
        )


def check_reversible(repayment, latest):
    """Repayments are reversed newest first, each once, while the loan is active or was
    closed by them."""
    if repayment.reversed_at is not None:
        raise Conflict("This repayment has already been reversed.")
    if repayment.loan.status not in (Status.ACTIVE, Status.CLOSED):
        raise Conflict(f"{repayment.loan.reference} is {repayment.loan.status}; it is settled.")
    if latest is not None and latest.pk != repayment.pk:
        raise Conflict(
            f"Reverse the later repayment {latest.public_id} of {repayment.loan.reference} first."
        )


# --- collateral -------------------------------------------------------------------------------


def clean_collateral(*, loan, type, description, value, currency, valuation_date, guarantor):
    errors = {}
    if type not in Collateral.Type.values:
        errors["type"] = [f"Choose one of: {', '.join(Collateral.Type.values)}."]
    if not (description or "").strip():
        errors["description"] = ["Describe the collateral."]
    try:
        currencies.validate_currency(currency)
        value = currencies.parse_amount(value, currency, field="value")
    except ValidationError as error:
        errors.update(
            error.message_dict if hasattr(error, "error_dict") else {"currency": error.messages}
        )
    if valuation_date is None:
        errors["valuation_date"] = ["Give the date of the valuation."]
    if type == Collateral.Type.GUARANTEE:
        if guarantor is None:
            errors["guarantor"] = ["A guarantee needs its guarantor."]
        elif guarantor.pk == loan.customer_id:
            errors["guarantor"] = ["The borrower cannot guarantee its own loan."]
        elif guarantor.is_deleted:
            errors["guarantor"] = ["No customer with this reference."]
    elif guarantor is not None:
        errors["guarantor"] = ["Only a guarantee has a guarantor."]
    if errors:
        raise ValidationError(errors)
    if loan.status not in OPEN_STATUSES:
        raise Conflict(f"{loan.reference} is {loan.status}; it takes no more collateral.")
    return value
