"""How a payment is spread over a loan's installments, and what closes a loan on a date: pure
functions over installments held in memory (the services lock, load and save them).

Definitions used throughout (docs/lending.md, "Allocation", "Payoff"):

* An installment is *due* on a date when its due date is on or before it; the first one not
  due is the *next* installment, whose period is the *current period*.
* The *future principal* is the principal of the installments not yet due, less what was
  repaid ahead of schedule.
* Interest of the current period accrues by the loan's day count on the future principal from
  the *anchor*: the period's start (the previous due date, or the disbursement), or the date of
  the last repayment that repaid principal ahead of schedule in the period, when later. What
  had accrued before the anchor is part of the next installment's interest already.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from lending.models import COMPONENTS, Installment
from lending.schedule import accrued_interest

ZERO = Decimal(0)
Status = Installment.Status
# Owed and not late yet: what close of day turns overdue once its due date has passed.
UNPAID = (Status.PENDING, Status.PARTIALLY_PAID)


def owed(installment, component):
    return getattr(installment, component) - getattr(installment, f"{component}_paid")


@dataclass
class Owed:
    """What a loan owes, by component."""

    principal: Decimal = ZERO
    interest: Decimal = ZERO
    fees: Decimal = ZERO
    penalties: Decimal = ZERO

    @property
    def total(self):
        return self.principal + self.interest + self.fees + self.penalties

    def as_dict(self):
        return {c: getattr(self, c) for c in (*COMPONENTS, "total")}


@dataclass
class Period:
    """The current period of a loan on a date (see the module's definitions)."""

    next: Installment | None
    future_principal: Decimal
    anchor: object  # a date
    due: list  # the installments due on the date, oldest first
    future: list  # the others


def period_on(loan, installments, on, *, rescheduled_on=None):
    due = [i for i in installments if i.due_date <= on]
    future = [i for i in installments if i.due_date > on]
    start = due[-1].due_date if due else loan.start_date
    anchor = max(start, rescheduled_on) if rescheduled_on else start
    principal = sum((owed(i, "principal") for i in future), ZERO)
    return Period(future[0] if future else None, principal, anchor, due, future)


def _accrued(loan, principal, start, end, minor_unit):
    if end <= start or not principal:
        return ZERO
    return accrued_interest(
        principal=principal,
        annual_interest_rate=loan.annual_interest_rate,
        start=start,
        end=end,
        day_count=loan.day_count,
        minor_unit=minor_unit,
    )


def period_interest(loan, period, on, minor_unit):
    """The interest of the current period accrued by `on`, paid or not: what accrued before
    the anchor (the next installment's interest less what the future principal bears from the
    anchor to its due date) plus what the future principal bears from the anchor to `on`,
    never more than the next installment's interest."""
    installment = period.next
    if installment is None:
        return ZERO
    to_due = _accrued(
        loan, period.future_principal, period.anchor, installment.due_date, minor_unit
    )
    before_anchor = max(installment.interest - to_due, ZERO)
    since_anchor = _accrued(loan, period.future_principal, period.anchor, on, minor_unit)
    return min(before_anchor + since_anchor, installment.interest)


def payoff(loan, installments, on, *, minor_unit, rescheduled_on=None):
    """What closes the loan on `on`: everything due, the future principal, and the current
    period's interest accrued by `on` not yet paid."""
    period = period_on(loan, installments, on, rescheduled_on=rescheduled_on)
    total = Owed()
    for installment in installments:
        for component in ("principal", "fees", "penalties"):
            setattr(total, component, getattr(total, component) + owed(installment, component))
    total.interest = sum((owed(i, "interest") for i in period.due), ZERO)
    if period.next is not None:
        accrued = period_interest(loan, period, on, minor_unit)
        total.interest += max(accrued - period.next.interest_paid, ZERO)
    return total


@dataclass
class Allocation:
    """What one payment paid of each installment, with each one's status before."""

    parts: dict = field(default_factory=dict)  # installment number -> {component: amount}
    before: dict = field(default_factory=dict)  # installment number -> (status, paid_on)
    installments: dict = field(default_factory=dict)  # number -> Installment

    def pay(self, installment, component, available):
        """Pay up to `available` of the component; what was paid."""
        amount = min(owed(installment, component), available)
        if amount <= 0:
            return ZERO
        number = installment.number
        if number not in self.parts:
            self.parts[number] = dict.fromkeys(COMPONENTS, ZERO)
            self.before[number] = (installment.status, installment.paid_on)
            self.installments[number] = installment
        self.parts[number][component] += amount
        name = f"{component}_paid"
        setattr(installment, name, getattr(installment, name) + amount)
        return amount

    def totals(self):
        return Owed(**{c: sum((p[c] for p in self.parts.values()), ZERO) for c in COMPONENTS})


def allocate_due(installments, amount, order, allocation):
    """Pay the due installments oldest first, each in the product's `order`; what is left."""
    left = amount
    for installment in installments:
        for component in order:
            left -= allocation.pay(installment, component, left)
            if not left:
                return left
    return left


def days_past_due(installments, on):
    """The days on `on` since the oldest overdue installment fell due (0 if none is): what close
    of day sets on each loan, for a batch in SQL (close_of_day._set_days_past_due), and a
    repayment or its reversal sets on its loan at once."""
    due_dates = [i.due_date for i in installments if i.status == Status.OVERDUE]
    return (on - min(due_dates)).days if due_dates else 0


def restore_status(installment, status_before, closed_through):
    """An installment's status as a reversal leaves it: the one it had before the payment,
    unless close of day has since closed a day after its due date (`closed_through`: the last
    day closed, None if never), which would have made it overdue had it not been paid
    (close_of_day._close_batch, the same rule for a batch in SQL)."""
    late = closed_through is not None and installment.due_date < closed_through
    if status_before in UNPAID and late:
        status_before = Status.OVERDUE
    installment.status = status_before


def settle_status(installment, on):
    """An installment's status after a payment received `on`: paid once nothing is owed;
    otherwise an overdue one stays overdue and a touched one is partially paid."""
    if installment.outstanding == 0:
        installment.status = Status.PAID
        installment.paid_on = installment.paid_on or on
    elif installment.status != Status.OVERDUE:
        installment.status = Status.PARTIALLY_PAID if installment.paid else Status.PENDING
