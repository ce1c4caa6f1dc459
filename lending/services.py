"""Every write of lending: products, the loan lifecycle, repayments and collateral.

Services take keyword arguments of plain data, lock the loan row (`select_for_update`) before
reading its state, check the rules of `lending.rules`, move money only through
`accounts.services.post_journal` / `reverse_journal` (one journal per movement, in the same
transaction) and record an audit event for each decision and movement, besides the loan's
history. `by` is who acts (a user, a partner key or a label), as in `accounts.services`.
"""

import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts import currencies, internal
from accounts.models import InternalCode, Journal, JournalKind
from accounts.services import Line, post_journal, reverse_journal
from core.context import acting_as, actor_label, get_current_tenant
from core.errors import Conflict, NotFound
from core.references import next_reference
from core.signals import emit_audit_event
from customers.models import Customer
from lending import allocation, rules
from lending.close_of_day import last_closed_day
from lending.models import (
    COMPONENTS,
    Collateral,
    Installment,
    Loan,
    LoanProduct,
    Repayment,
    RepaymentAllocation,
)
from lending.schedule import Terms, build_schedule, reschedule

ZERO = Decimal(0)
Status = Loan.Status
INCOME = {
    "principal": InternalCode.LOAN_PORTFOLIO,
    "interest": InternalCode.INTEREST_INCOME,
    "fees": InternalCode.FEE_INCOME,
    "penalties": InternalCode.PENALTY_INCOME,
}


def _save(instance, fields, by):
    with acting_as(by):
        instance.save(update_fields=[*fields, "updated_at"])
    return instance


def _internal(code, currency):
    return internal.internal_account(code=code, currency=currency)


# --- products ---------------------------------------------------------------------------------


def _refuse_unknown(fields):
    unknown = set(fields) - set(rules.PRODUCT_FIELDS)
    if unknown:
        raise TypeError(f"Unknown or read-only field(s): {', '.join(sorted(unknown))}.")


@transaction.atomic
def create_product(*, by=None, **fields):
    """A loan product of the current tenant (`rules.PRODUCT_FIELDS`), unset fields taking the
    model's defaults, with a fresh reference."""
    _refuse_unknown(fields)
    values = {
        f.name: f.get_default() for f in LoanProduct._meta.fields if f.name in rules.PRODUCT_FIELDS
    }
    values.update(fields)
    product = LoanProduct(**rules.clean_product(values))
    product.tenant = get_current_tenant()
    product.reference = next_reference(
        tenant=product.tenant, prefix=LoanProduct.REFERENCE_PREFIX, model=LoanProduct
    )
    with acting_as(by):
        product.save()
    return product


@transaction.atomic
def update_product(*, product, changes, by=None):
    """Change the product's fields (loans keep the terms they were granted); one history row,
    none for no change. A product with loans keeps its currency."""
    _refuse_unknown(changes)
    current = LoanProduct.objects.select_for_update().filter(pk=product.pk).first()
    if current is None:
        raise NotFound("No loan product with this reference.")
    stored = {name: getattr(current, name) for name in rules.PRODUCT_FIELDS}
    cleaned = rules.clean_product({**stored, **changes})
    changed = [name for name in changes if cleaned[name] != stored[name]]
    if "currency" in changed and Loan.all_objects.filter(product=current).exists():
        raise ValidationError({"currency": "The product has loans; its currency stays."})
    for name in changed:
        setattr(current, name, cleaned[name])
    return _save(current, changed, by) if changed else current


# --- applications -----------------------------------------------------------------------------

_TERM_NAMES = ("first_repayment_date", "start_date", "grace_installments", "principal")


def terms_of(loan):
    """The schedule terms of a loan (from its disbursement on, `start_date` is the day
    interest started)."""
    return Terms(
        principal=loan.principal,
        annual_interest_rate=loan.annual_interest_rate,
        number_of_installments=loan.number_of_installments,
        repayment_frequency=loan.repayment_frequency,
        interest_method=loan.interest_method,
        amortization=loan.amortization,
        day_count=loan.day_count,
        start_date=loan.start_date,
        first_repayment_date=loan.first_repayment_date,
        grace_installments=loan.grace_installments,
        minor_unit=currencies.minor_unit(loan.currency),
    )


def _schedule(loan):
    """The schedule of `loan`'s terms; a term the maths refuses is a ValidationError naming
    it."""
    try:
        return build_schedule(terms_of(loan))
    except ValueError as error:
        name = next((n for n in _TERM_NAMES if n in str(error)), "first_repayment_date")
        raise ValidationError({name: str(error)}) from None


def _application(product, terms, start_date, first_repayment_date):
    principal, rate, installments, frequency = terms
    if start_date is None and first_repayment_date is None:
        start_date = timezone.localdate()
    return Loan(
        product=product,
        currency=product.currency,
        principal=principal,
        annual_interest_rate=rate,
        number_of_installments=installments,
        repayment_frequency=frequency,
        interest_method=product.interest_method,
        amortization=product.amortization,
        day_count=product.day_count,
        grace_installments=product.grace_installments,
        start_date=start_date,
        first_repayment_date=first_repayment_date,
    )


def quote(
    *,
    product,
    principal,
    annual_interest_rate,
    number_of_installments,
    repayment_frequency,
    start_date=None,
    first_repayment_date=None,
):
    """The schedule these terms would have (the start: today unless a date is given);
    nothing is stored."""
    terms = rules.clean_terms(
        product=product,
        principal=principal,
        annual_interest_rate=annual_interest_rate,
        number_of_installments=number_of_installments,
        repayment_frequency=repayment_frequency,
    )
    return _schedule(_application(product, terms, start_date, first_repayment_date))


@transaction.atomic
def apply_for_loan(
    *,
    customer,
    product,
    account,
    principal,
    annual_interest_rate,
    number_of_installments,
    repayment_frequency,
    start_date=None,
    first_repayment_date=None,
    by=None,
):
    """An application, `pending_approval`, by an active, KYC-verified customer, into its own
    active account in the product's currency, on terms within the product's limits
    (`rules.TermsViolation` naming the term otherwise). The customer is locked meanwhile, so
    it cannot be closed concurrently."""
    terms = rules.clean_terms(
        product=product,
        principal=principal,
        annual_interest_rate=annual_interest_rate,
        number_of_installments=number_of_installments,
        repayment_frequency=repayment_frequency,
    )
    holder = Customer.all_objects.select_for_update().filter(pk=customer.pk).first()
    if holder is None:
        raise NotFound("No customer with this reference.")
    rules.check_borrower(holder, account, product)
    loan = _application(product, terms, start_date, first_repayment_date)
    _schedule(loan)  # the dates make a schedule
    loan.tenant = get_current_tenant()
    loan.customer = holder
    loan.account = account
    loan.reference = next_reference(tenant=loan.tenant, prefix=Loan.REFERENCE_PREFIX, model=Loan)
    loan.submitted_on = timezone.localdate()
    loan.submitted_by = actor_label(by)
    with acting_as(by):
        loan.save()
    return loan


# --- decisions --------------------------------------------------------------------------------


def _locked(loan):
    """The loan as it is now, locked (its customer, product and account joined, unlocked)."""
    current = (
        Loan.objects.select_for_update(of=("self",))
        .select_related("customer", "product", "account")
        .filter(pk=loan.pk)
        .first()
    )
    if current is None:
        raise NotFound("No loan with this reference.")
    return current


def _event(loan, action, changes, by):
    emit_audit_event(
        action=action,
        resource_type="lending.loan",
        resource_id=loan.reference,
        changes=changes,
        related=[
            f"customers.customer:{loan.customer.reference}",
            f"accounts.account:{loan.account.reference}",
        ],
        actor=actor_label(by),
    )


def _move(loan, step, by, fields, **values):
    """Take the locked loan along `step`, set `values`, save, record the event."""
    before = loan.status
    loan.status = rules.check_transition(loan, step)
    for name, value in values.items():
        setattr(loan, name, value)
    _save(loan, ["status", *fields, *values], by)
    _event(loan, f"loan_{step.replace(' ', '_')}", {"status": [before, loan.status]}, by)
    return loan


@transaction.atomic
def approve_loan(*, loan, by=None):
    """Approve an application; never by who submitted it (four-eyes)."""
    current = _locked(loan)
    rules.check_transition(current, "approve")
    actor = actor_label(by)
    rules.check_four_eyes(current, actor)
    return _move(current, "approve", by, [], approved_on=timezone.localdate(), approved_by=actor)


@transaction.atomic
def reject_loan(*, loan, reason="", by=None):
    """Reject an application (four-eyes, like approval), saying why."""
    current = _locked(loan)
    rules.check_transition(current, "reject")
    actor = actor_label(by)
    rules.check_four_eyes(current, actor)
    return _move(
        current,
        "reject",
        by,
        [],
        decided_on=timezone.localdate(),
        decided_by=actor,
        decision_reason=(reason or "").strip()[:500],
    )


@transaction.atomic
def withdraw_loan(*, loan, by=None):
    """The borrower (or staff for it) withdraws an application not yet disbursed."""
    current = _locked(loan)
    return _move(
        current, "withdraw", by, [], decided_on=timezone.localdate(), decided_by=actor_label(by)
    )


# --- disbursement -----------------------------------------------------------------------------


@transaction.atomic
def disburse_loan(*, loan, on=None, idempotency_key="", by=None):
    """Pay the principal into the loan's account (a `loan_disbursement` journal from the loan
    portfolio), charge the origination fee (its own `fee` journal) and write the schedule,
    interest running from `on` (today by default). Retried with the same idempotency key,
    the loan as disbursed the first time is returned."""
    current = _locked(loan)
    replayed = Journal.objects.filter(
        pk=current.disbursement_journal_id, idempotency_key=idempotency_key
    )
    if idempotency_key and current.disbursement_journal_id and replayed.exists():
        return current
    rules.check_transition(current, "disburse")
    today = timezone.localdate()
    on = on or today
    if on > today:
        raise ValidationError({"on": "A loan is disbursed today or on a past date."})
    current.start_date = on
    if current.first_repayment_date is not None and current.first_repayment_date <= on:
        current.first_repayment_date = None  # passed meanwhile: one period after disbursement
    schedule = _schedule(current)
    currency, principal = current.currency, current.principal
    current.disbursement_journal = post_journal(
        kind=JournalKind.LOAN_DISBURSEMENT,
        lines=[
            Line(_internal(InternalCode.LOAN_PORTFOLIO, currency), -principal),
            Line(current.account, principal),
        ],
        description=f"Disbursement of {current.reference}",
        value_date=on,
        idempotency_key=idempotency_key,
        by=by,
    )
    fee = rules.origination_fee(current.product, principal)
    if fee:
        current.fee_journal = post_journal(
            kind=JournalKind.FEE,
            lines=[
                Line(current.account, -fee),
                Line(_internal(InternalCode.FEE_INCOME, currency), fee),
            ],
            description=f"Origination fee of {current.reference}",
            value_date=on,
            idempotency_key=f"{idempotency_key}:fee" if idempotency_key else "",
            by=by,
        )
    Installment.objects.bulk_create(
        Installment(
            tenant_id=current.tenant_id,
            loan=current,
            number=i.number,
            due_date=i.due_date,
            principal=i.principal,
            interest=i.interest,
            fees=i.fees,
        )
        for i in schedule.installments
    )
    return _move(
        current,
        "disburse",
        by,
        ["start_date", "first_repayment_date", "disbursement_journal", "fee_journal"],
        disbursed_on=on,
        maturity_date=schedule.maturity_date,
    )


# --- repayments -------------------------------------------------------------------------------


def standing_repayments(loan):
    """The loan's repayments not reversed, newest first: the first is the one to reverse next.
    (A read the services need, so it lives here; `selectors` imports from this module.)"""
    return Repayment.objects.filter(loan=loan, reversed_at__isnull=True).order_by(
        "-received_on", "-id"
    )


def rescheduled_on(loan):
    """The date of the loan's last repayment (not reversed) that repaid principal ahead of
    schedule, or None."""
    return (
        standing_repayments(loan)
        .filter(rescheduled_on__isnull=False)
        .values_list("rescheduled_on", flat=True)
        .first()
    )


def _replayed(loan, idempotency_key, amount):
    """The repayment already made with this key, if it is the same payment."""
    previous = Repayment.objects.filter(journal__idempotency_key=idempotency_key).first()
    if previous is None:
        return None
    if previous.loan_id != loan.pk or previous.amount != amount:
        raise Conflict(
            "This idempotency key was already used for another payment. Use a new key for a "
            "new payment."
        )
    return previous


@transaction.atomic
def repay_loan(*, loan, amount, received_on=None, idempotency_key="", by=None):
    """Take `amount` from the loan's account (a `loan_repayment` journal) and allocate it:
    the installments due oldest first, each in the product's allocation order; what is left
    pays the interest accrued in the current period, then principal ahead of schedule, the
    installments still to come recomputed by the product's overpayment rule. More than
    closes the loan is refused; the loan closes when nothing is owed."""
    current = _locked(loan)
    amount = currencies.parse_amount(amount, current.currency)
    if idempotency_key and (previous := _replayed(current, idempotency_key, amount)):
        return previous
    rules.check_transition(current, "repay")
    today = timezone.localdate()
    received_on = received_on or today
    latest = standing_repayments(current).first()
    rules.check_received_on(
        current, received_on, today=today, last_received_on=latest and latest.received_on
    )
    installments = list(
        Installment.objects.select_for_update().filter(loan=current).order_by("number")
    )
    minor = currencies.minor_unit(current.currency)
    anchor_date = rescheduled_on(current)
    closing = allocation.payoff(
        current, installments, received_on, minor_unit=minor, rescheduled_on=anchor_date
    )
    rules.check_not_above_payoff(current, amount, closing.total)
    period = allocation.period_on(current, installments, received_on, rescheduled_on=anchor_date)
    paid = allocation.Allocation()
    order = current.product.allocation_order
    left = allocation.allocate_due(period.due, amount, order, paid)
    snapshot, deleted = [], []
    if left:
        left, snapshot, deleted = _pay_ahead(current, period, received_on, left, paid, minor)
    totals = paid.totals()
    journal = post_journal(
        kind=JournalKind.LOAN_REPAYMENT,
        lines=[Line(current.account, -amount)]
        + [
            Line(_internal(INCOME[c], current.currency), getattr(totals, c))
            for c in COMPONENTS
            if getattr(totals, c)
        ],
        description=f"Repayment of {current.reference}",
        value_date=received_on,
        idempotency_key=idempotency_key,
        by=by,
    )
    repayment = Repayment.objects.create(
        loan=current,
        amount=amount,
        received_on=received_on,
        journal=journal,
        rescheduled_on=received_on if snapshot else None,
        schedule_before=snapshot,
        **{c: getattr(totals, c) for c in COMPONENTS},
    )
    for installment in paid.installments.values():
        allocation.settle_status(installment, received_on)
    # Only what the payment touched: the installments it paid and those it rescheduled.
    touched = {i.pk: i for i in paid.installments.values()}
    if snapshot:
        touched |= {i.pk: i for i in period.future}
    _save_installments(list(touched.values()), deleted)
    RepaymentAllocation.objects.bulk_create(
        RepaymentAllocation(
            tenant_id=current.tenant_id,
            repayment=repayment,
            installment=paid.installments[number],
            status_before=paid.before[number][0],
            paid_on_before=paid.before[number][1],
            **parts,
        )
        for number, parts in paid.parts.items()
    )
    _event(
        current,
        "loan_repayment",
        {
            "repayment": [None, str(repayment.public_id)],
            **{f"paid:{c}": [None, str(getattr(totals, c))] for c in COMPONENTS},
        },
        by,
    )
    remaining = [i for i in installments if i.pk not in deleted]
    figures = _schedule_figures(current, remaining, last_closed_day())
    if not any(i.outstanding for i in remaining):
        _move(current, "close", by, [], closed_on=received_on, **figures)
    elif figures:
        _save(current, list(_set(current, figures)), by)
    repayment.loan = current
    return repayment


def _schedule_figures(loan, installments, closed_through):
    """What the loan shows of its installments and differs now: `maturity_date` (the last due
    date, earlier once a payment ahead shortened the term) and `days_past_due`, counted on
    the last day closed (`closed_through`), as close of day counted it: 0 once nothing is
    overdue, and the same figure close of day left when something still is (an installment
    becomes overdue only when a day is closed, so one overdue means one was)."""
    counted_on = closed_through or timezone.localdate()
    figures = {
        "maturity_date": max(i.due_date for i in installments),
        "days_past_due": allocation.days_past_due(installments, counted_on),
    }
    return {name: value for name, value in figures.items() if getattr(loan, name) != value}


def _set(instance, values):
    """Set `values` on `instance`; their names."""
    for name, value in values.items():
        setattr(instance, name, value)
    return values


def _pay_ahead(loan, period, on, left, paid, minor):
    """Pay `left` ahead of schedule: the next installment's fees and penalties and the
    interest accrued in the current period (in the product's order), then principal, the
    installments still to come recomputed. (left, snapshot of them before, ids deleted)."""
    upcoming = period.next
    accrued = allocation.period_interest(loan, period, on, minor)
    for component in loan.product.allocation_order:
        if component == "interest":
            due_now = max(accrued - upcoming.interest_paid, ZERO)
            left -= paid.pay(upcoming, "interest", min(left, due_now))
        elif component != "principal":
            left -= paid.pay(upcoming, component, left)
    if not left:
        return left, [], []
    snapshot = [
        {
            "number": i.number,
            "due_date": i.due_date.isoformat(),
            "principal": str(i.principal),
            "interest": str(i.interest),
        }
        for i in period.future
    ]
    remaining = period.future_principal - left
    # The next installment carries what is repaid ahead, paid, and the interest accrued so
    # far; the rest of the schedule is recomputed on what remains.
    paid.before.setdefault(upcoming.number, (upcoming.status, upcoming.paid_on))
    paid.parts.setdefault(upcoming.number, dict.fromkeys(COMPONENTS, ZERO))["principal"] += left
    paid.installments[upcoming.number] = upcoming
    upcoming.principal_paid += left
    deleted = []
    if remaining:
        new = {
            i.number: i
            for i in reschedule(
                terms_of(loan),
                outstanding_principal=remaining,
                as_of=on,
                overpayment=loan.product.overpayment,
            ).installments
        }
    else:
        new = {}
    for installment in period.future:
        replacement = new.get(installment.number)
        if installment is upcoming:
            installment.principal = installment.principal_paid + (
                replacement.principal if replacement else ZERO
            )
            installment.interest = accrued + (replacement.interest if replacement else ZERO)
        elif replacement is None:
            deleted.append(installment.pk)
        else:
            installment.principal = replacement.principal
            installment.interest = replacement.interest
    return ZERO, snapshot, deleted


def _save_installments(installments, deleted=()):
    Installment.objects.filter(pk__in=deleted).delete()
    kept = [i for i in installments if i.pk not in deleted]
    now = timezone.now()
    for installment in kept:
        installment.updated_at = now
    Installment.objects.bulk_update(
        kept,
        [
            "principal",
            "interest",
            *(f"{c}_paid" for c in COMPONENTS),
            "status",
            "paid_on",
            "updated_at",
        ],
    )


@transaction.atomic
def reverse_repayment(*, repayment, by=None):
    """Reverse a repayment (the newest of its loan first): a reversal journal of its journal,
    each installment's paid amounts and status as they were before it, the schedule it
    recomputed restored, a loan it closed active again."""
    current_repayment = Repayment.objects.select_for_update().filter(pk=repayment.pk).first()
    if current_repayment is None:
        raise NotFound("No repayment with this id.")
    loan = _locked(current_repayment.loan)
    current_repayment.loan = loan
    rules.check_reversible(current_repayment, standing_repayments(loan).first())
    journal = reverse_journal(journal=current_repayment.journal, by=by)
    installments = {
        i.number: i
        for i in Installment.objects.select_for_update().filter(loan=loan).order_by("number")
    }
    touched = {}
    closed_through = last_closed_day()
    for part in current_repayment.allocations.select_related("installment"):
        installment = touched[part.installment.number] = installments[part.installment.number]
        for component in COMPONENTS:
            name = f"{component}_paid"
            setattr(installment, name, getattr(installment, name) - getattr(part, component))
        allocation.restore_status(installment, part.status_before, closed_through)
        installment.paid_on = part.paid_on_before
    recreated = []
    for row in current_repayment.schedule_before:
        installment = installments.get(row["number"])
        if installment is None:  # one the payment ahead had made unnecessary
            installment = Installment(
                tenant_id=loan.tenant_id,
                loan=loan,
                number=row["number"],
                due_date=datetime.date.fromisoformat(row["due_date"]),
                principal=Decimal(row["principal"]),
                interest=Decimal(row["interest"]),
            )
            allocation.restore_status(installment, Installment.Status.PENDING, closed_through)
            recreated.append(installment)
        else:
            installment.principal = Decimal(row["principal"])
            installment.interest = Decimal(row["interest"])
            touched[installment.number] = installment
    _save_installments(list(touched.values()))
    Installment.objects.bulk_create(recreated)
    figures = _schedule_figures(loan, [*installments.values(), *recreated], closed_through)
    current_repayment.reversed_at = timezone.now()
    current_repayment.reversal_journal = journal
    current_repayment.save(update_fields=["reversed_at", "reversal_journal", "updated_at"])
    _event(
        loan,
        "loan_repayment_reversal",
        {"repayment": [str(current_repayment.public_id), None]},
        by,
    )
    if loan.status == Status.CLOSED:
        before = loan.status
        loan.status, loan.closed_on = Status.ACTIVE, None
        _save(loan, ["status", "closed_on", *_set(loan, figures)], by)
        _event(loan, "loan_reopen", {"status": [before, loan.status]}, by)
    elif figures:
        _save(loan, list(_set(loan, figures)), by)
    return current_repayment


# --- write-off --------------------------------------------------------------------------------


@transaction.atomic
def write_off_loan(*, loan, by=None):
    """Write off what principal is outstanding (a `write_off` journal from the loan portfolio
    to write-off expense); unpaid interest, fees and penalties were never income (cash basis)
    and are simply not collected."""
    current = _locked(loan)
    rules.check_transition(current, "write off")
    outstanding = sum(
        (allocation.owed(i, "principal") for i in Installment.objects.filter(loan=current)),
        ZERO,
    )
    fields = []
    if outstanding:
        current.write_off_journal = post_journal(
            kind=JournalKind.WRITE_OFF,
            lines=[
                Line(_internal(InternalCode.WRITE_OFF_EXPENSE, current.currency), -outstanding),
                Line(_internal(InternalCode.LOAN_PORTFOLIO, current.currency), outstanding),
            ],
            description=f"Write-off of {current.reference}",
            by=by,
        )
        fields.append("write_off_journal")
    return _move(current, "write off", by, fields, written_off_on=timezone.localdate())


# --- collateral -------------------------------------------------------------------------------


@transaction.atomic
def add_collateral(
    *, loan, type, description, value, currency, valuation_date, guarantor=None, by=None
):
    """Pledge collateral for a loan not yet ended; a guarantee names its guarantor (another
    customer of the tenant)."""
    current = _locked(loan)
    value = rules.clean_collateral(
        loan=current,
        type=type,
        description=description,
        value=value,
        currency=currency,
        valuation_date=valuation_date,
        guarantor=guarantor,
    )
    collateral = Collateral(
        tenant=current.tenant,
        loan=current,
        type=type,
        description=description.strip(),
        value=value,
        currency=currency,
        valuation_date=valuation_date,
        guarantor=guarantor,
    )
    with acting_as(by):
        collateral.save()
    return collateral
