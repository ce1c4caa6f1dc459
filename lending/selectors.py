"""Reads of lending that are more than one line, each a fixed number of queries whatever the
page size. Another tenant's object is NotFound, like a missing one."""

import uuid
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import Sum
from django.utils import timezone

from accounts import currencies
from core.errors import NotFound
from core.history import covering, version_as_of
from lending import allocation
from lending.models import (
    COMPONENTS,
    Collateral,
    Installment,
    Loan,
    LoanProduct,
    PenaltyCharge,
    Repayment,
    RepaymentAllocation,
)
from lending.services import rescheduled_on

ZERO = Decimal(0)


def get_product(reference):
    product = LoanProduct.objects.filter(reference=reference).first()
    if product is None:
        raise NotFound("No loan product with this reference.")
    return product


def products(active=None):
    queryset = LoanProduct.objects.order_by("name", "id")
    if active is not None:
        queryset = queryset.filter(is_active=active)
    return queryset


def _loans():
    return (
        Loan.objects.with_outstanding()
        .with_collateral_value()
        .select_related("customer", "product", "account")
    )


def get_loan(reference):
    """A live loan with its outstanding amounts (`outstanding_principal` ... `_total`), its
    customer, product and account joined."""
    loan = _loans().filter(reference=reference).first()
    if loan is None:
        raise NotFound("No loan with this reference.")
    return loan


def loan_as_of(reference, when):
    """The loan `reference` as it was at `when` (its fields from its history; deleted now or
    not) with `outstanding_*` annotated as of then; NotFound if it did not exist yet.

    From disbursement on: the installments' amounts less what the repayments recorded by then
    and not reversed by then allocated, penalties counted once charged. The installments'
    amounts are today's: principal and fees are exact (recomputing a schedule only moves
    principal between installments), interest is not when a repayment ahead of schedule
    recorded or reversed after `when` recomputed it (docs/api.md, "Read and list loans")."""
    current = None
    if "\x00" not in reference:
        current = Loan.all_objects.filter(reference=reference).first()
    loan = version_as_of(Loan, pk=current.pk, when=when) if current else None
    if loan is None:
        raise NotFound(f"No loan {reference} at {when.isoformat()}.")
    when = covering(when)
    owed = dict.fromkeys(COMPONENTS, ZERO)
    if loan.disbursed_on is not None:
        installments = Installment.objects.filter(loan_id=loan.pk).aggregate(
            **{c: Sum(c) for c in ("principal", "interest", "fees")}
        )
        installments["penalties"] = PenaltyCharge.objects.filter(
            installment__loan_id=loan.pk, created_at__lte=when
        ).aggregate(total=Sum("amount"))["total"]
        paid = (
            RepaymentAllocation.objects.filter(
                repayment__loan_id=loan.pk, repayment__created_at__lte=when
            )
            .exclude(repayment__reversed_at__lte=when)
            .aggregate(**{c: Sum(c) for c in COMPONENTS})
        )
        owed = {c: (installments[c] or ZERO) - (paid[c] or ZERO) for c in COMPONENTS}
    for component, amount in owed.items():
        setattr(loan, f"outstanding_{component}", amount)
    loan.outstanding_total = sum(owed.values(), ZERO)
    loan.collateral_value = _collateral_value_as_of(loan, when)
    return loan


def _collateral_value_as_of(loan, when):
    """What `with_collateral_value` annotates, as of `when`: each collateral's last version
    by then (values, currency and release as they were), counted if live then."""
    versions = Collateral.history.filter(loan_id=loan.pk, history_date__lte=when).order_by(
        "id", "-history_date", "-history_id"
    )
    latest = {}
    for version in versions:
        latest.setdefault(version.id, version)
    return sum(
        (
            v.value
            for v in latest.values()
            if v.history_type != "-" and v.deleted_at is None and v.currency == loan.currency
        ),
        ZERO,
    )


def loans(customer=None, status=None):
    """Loans newest first, outstanding amounts annotated: one query for any page."""
    queryset = _loans()
    if customer is not None:
        queryset = queryset.filter(customer=customer)
    if status:
        queryset = queryset.filter(status=status)
    return queryset.order_by("-created_at", "-id")


def schedule_of(loan):
    """The loan's installments in order (none before disbursement: see `services.quote` for
    the schedule an application would have)."""
    return Installment.objects.filter(loan=loan).order_by("number")


def repayments_of(loan):
    return Repayment.objects.filter(loan=loan).order_by("-received_on", "-id")


def get_repayment(loan, public_id):
    try:
        key = uuid.UUID(str(public_id))
    except ValueError:
        key = None
    found = Repayment.objects.filter(loan=loan, public_id=key).first() if key else None
    if found is None:
        raise NotFound("No repayment with this id.")
    return found


def payoff(loan, on=None):
    """What closes the loan on `on` (today by default): {principal, interest, fees,
    penalties, total}. Principal outstanding, the interest of installments due and unpaid,
    the current period's interest accrued by `on` by the loan's day count, fees and penalties
    charged. Zero for a loan not active."""
    on = on or timezone.localdate()
    if loan.status != Loan.Status.ACTIVE:
        return allocation.Owed().as_dict()
    if on < loan.disbursed_on:
        raise ValidationError({"date": f"{loan.reference} was disbursed on {loan.disbursed_on}."})
    owed = allocation.payoff(
        loan,
        list(schedule_of(loan)),
        on,
        minor_unit=currencies.minor_unit(loan.currency),
        rescheduled_on=rescheduled_on(loan),
    )
    return owed.as_dict()


def collateral_of(loan):
    return Collateral.objects.filter(loan=loan).select_related("guarantor").order_by("id")


def loan_to_value(loan):
    """Outstanding principal / the value of the loan's collateral in its currency (collateral
    in another currency is not converted and not counted), as a ratio (0.8 is 80 %); None
    when nothing in the loan's currency secures it, or for an application that ended
    undecided or refused (it will never lend anything). Reads what `get_loan`, `loans`,
    `loan_as_of` and the loan admin annotate (`outstanding_principal`, `collateral_value`)."""
    if not loan.collateral_value or loan.status in (Loan.Status.REJECTED, Loan.Status.WITHDRAWN):
        return None
    if loan.status in (Loan.Status.PENDING_APPROVAL, Loan.Status.APPROVED):
        principal = loan.principal  # what it will be once disbursed
    else:
        principal = loan.outstanding_principal
    return (principal / loan.collateral_value).quantize(Decimal("0.0001"))
