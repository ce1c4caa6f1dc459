"""Close of day: what the passing of a day does to the loans of a tenant (docs/lending.md,
"Close of day"; docs/operations.md for running it).

For each day closed, in one transaction per tenant and day:

1. every unpaid installment of an active loan whose due date is before the day becomes
   `overdue`;
2. penalties are charged per the loan's product once an installment is more days late than the
   product's tolerance: a flat amount once per missed installment, or a rate a year on the
   installment's overdue amount for each day late, one `PenaltyCharge` per (installment, day);
3. each active loan's `days_past_due` becomes the days since its oldest overdue installment fell
   due (0 when none);
4. the day is recorded as the tenant's last day closed, with an audit event saying what it did.

A day closed is never closed again, so running twice changes nothing; a run after missed days
closes each of them in order. Everything is set-based: a handful of statements per batch of
loans (`BATCH`), never a query per loan; only the rate penalties' amounts are computed in
Python, from the rows one query returns, so that they round exactly as the schedule does.
"""

import datetime
import os
import socket
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Count, Exists, Max, Min, OuterRef, Q
from django.utils import timezone

from accounts import currencies
from core.context import get_current_tenant, tenant_context
from core.errors import Conflict
from core.models import Tenant
from core.signals import emit_audit_event
from lending.allocation import UNPAID
from lending.models import ClosedDay, Installment, Loan, LoanProduct, PenaltyCharge
from lending.schedule import accrued_interest

# Loans (by id range) per set of statements: bounds each statement's work and drives progress.
BATCH = 20_000
# How long a run may hold a tenant's lock without renewing it (it renews after every batch);
# a run that dies leaves a lock that expires after this.
LOCK_TIMEOUT = 15 * 60
ONE_DAY = datetime.timedelta(days=1)


class CloseOfDayRunning(Conflict):
    """Another close of day holds the lock of a tenant this run would close."""


@dataclass
class DayClosed:
    """What closing one day did for one tenant."""

    tenant: str
    day: datetime.date
    loans: int = 0  # active loans looked at
    overdue: int = 0  # installments that became overdue
    penalties: int = 0  # penalty charges
    penalty_total: dict = field(default_factory=dict)  # currency -> amount charged
    in_arrears: int = 0  # active loans with days past due after the day

    def changes(self):
        return {
            "loans": self.loans,
            "installments_overdue": self.overdue,
            "penalty_charges": self.penalties,
            "penalties": {
                code: currencies.format_amount(amount, code)
                for code, amount in self.penalty_total.items()
            },
            "loans_in_arrears": self.in_arrears,
        }


# --- running ----------------------------------------------------------------------------------


def run_close_of_day(*, on, tenant=None, progress=None):
    """Close every day up to `on` for each active tenant (or only `tenant`) that has not been
    closed yet: from the day after the tenant's last closed day, or `on` alone the first time.

    `progress(tenant, day, done, total)` is called as loans are processed. Returns the
    `DayClosed` of every day closed, in order (empty when every tenant was up to date). Raises
    `CloseOfDayRunning` if another run holds one of the tenants."""
    if not isinstance(on, datetime.date) or isinstance(on, datetime.datetime):
        raise TypeError(f"on must be a date, not {on!r}")
    tenants = [tenant] if tenant is not None else list(_active_tenants())
    closed = []
    with _locks(tenants) as renew:
        for bank in tenants:
            with tenant_context(bank):
                for day in _days_to_close(on):
                    result = _close_day(bank, day, progress, renew)
                    if result is not None:
                        closed.append(result)
    return closed


def _active_tenants():
    return Tenant.objects.filter(status=Tenant.Status.ACTIVE).order_by("slug")


# --- the last day closed ----------------------------------------------------------------------


def last_closed_day():
    """The current tenant's last closed day, or None if close of day never ran for it."""
    return ClosedDay.objects.values_list("last_closed_on", flat=True).first()


def _lock_last_closed_day(tenant, day):
    """The tenant's ClosedDay row, locked until the transaction ends: should two runs ever
    overlap (a lock expired), the second waits here, then finds the day closed. A tenant's
    first run creates it as closed through the day before `day` (this transaction then moves
    it to `day`)."""
    record, _ = ClosedDay.objects.select_for_update().get_or_create(
        tenant_id=tenant.pk, defaults={"last_closed_on": day - ONE_DAY}
    )
    return record


def _days_to_close(on):
    last = last_closed_day()
    first = on if last is None else last + ONE_DAY
    return [first + ONE_DAY * n for n in range((on - first).days + 1)]


# --- the lock ---------------------------------------------------------------------------------


def _lock_key(tenant):
    return f"lending:close-of-day:{tenant.pk}"


@contextmanager
def _locks(tenants):
    """Each tenant's lock in the shared cache, taken with `cache.add` (atomic in Redis) before
    anything runs, released at the end if still ours. Yields `renew()`, which extends them."""
    owner = f"{socket.gethostname()} pid {os.getpid()} since {timezone.now():%Y-%m-%d %H:%M:%S}Z"
    token = f"{uuid.uuid4().hex} {owner}"
    taken = []
    try:
        for bank in tenants:
            key = _lock_key(bank)
            if not cache.add(key, token, LOCK_TIMEOUT):
                holder = (cache.get(key) or "").partition(" ")[2] or "another run"
                raise CloseOfDayRunning(
                    f"Close of day is already running for {bank.slug} ({holder}); "
                    "this run was refused. Wait for it to finish, or, if it died, for its "
                    f"lock to expire ({LOCK_TIMEOUT // 60} minutes after it last renewed it)."
                )
            taken.append(key)

        def renew():
            for key in taken:
                cache.touch(key, LOCK_TIMEOUT)

        yield renew
    finally:
        for key in taken:
            if cache.get(key) == token:
                cache.delete(key)


# --- one day ----------------------------------------------------------------------------------


@transaction.atomic
def _close_day(tenant, day, progress, renew):
    record = _lock_last_closed_day(tenant, day)
    if record.last_closed_on >= day:
        return None
    result = DayClosed(tenant=tenant.slug, day=day)
    products = _penalty_products()
    active = Loan.objects.filter(status=Loan.Status.ACTIVE)
    bounds = active.aggregate(low=Min("pk"), high=Max("pk"), count=Count("pk"))
    result.loans = bounds["count"]
    if bounds["low"] is None:
        if progress:
            progress(tenant, day, 0, 0)
    else:
        span = bounds["high"] - bounds["low"] + 1
        for low in range(bounds["low"], bounds["high"] + 1, BATCH):
            high = low + BATCH - 1
            _close_batch(day, products, low, high, result)
            renew()
            if progress:  # loans done, estimated from the share of the id range covered
                covered = min(high - bounds["low"] + 1, span)
                progress(tenant, day, result.loans * covered // span, result.loans)
    result.in_arrears = active.filter(days_past_due__gt=0).count()
    record.last_closed_on = day
    record.save(update_fields=["last_closed_on", "updated_at"])
    emit_audit_event(
        action="close_of_day",
        resource_type="lending.closeofday",
        resource_id=day.isoformat(),
        changes=result.changes(),
    )
    return result


def _close_batch(day, products, low, high, result):
    # An unpaid installment due before the day closed is overdue (for one installment that a
    # reversal leaves unpaid: allocation.restore_status).
    in_batch = Q(loan_id__gte=low, loan_id__lte=high, loan__status=Loan.Status.ACTIVE)
    result.overdue += Installment.objects.filter(
        in_batch, status__in=UNPAID, due_date__lt=day
    ).update(status=Installment.Status.OVERDUE)
    _charge_penalties(day, products, in_batch, result)
    _set_days_past_due(day, low, high)


# --- penalties --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Penalty:
    """A product's penalty terms, with what charging needs."""

    type: str
    amount: Decimal
    rate: Decimal
    tolerance: int
    minor_unit: int


def _penalty_products():
    """{product id: _Penalty} of the tenant's products that charge a penalty."""
    rows = LoanProduct.all_objects.exclude(penalty_type=LoanProduct.PenaltyType.NONE).values_list(
        "pk", "penalty_type", "penalty_amount", "penalty_rate", "penalty_tolerance_days", "currency"
    )
    return {
        pk: _Penalty(
            kind,
            currencies.quantize(amount, currency),
            rate,
            tolerance,
            currencies.minor_unit(currency),
        )
        for pk, kind, amount, rate, tolerance, currency in rows
    }


def _charge_penalties(day, products, in_batch, result):
    """One query for the installments to charge (overdue past their product's tolerance, not
    yet charged: ever for a flat penalty, this day for a rate), one INSERT of the charges and
    one UPDATE adding them to the installments."""
    if not products:
        return
    due = Q()
    for pk, penalty in products.items():
        # More days late than the tolerance: due before `day - tolerance`.
        late = Q(loan__product_id=pk, due_date__lt=day - ONE_DAY * penalty.tolerance)
        # Unscoped on purpose: the outer installment is the tenant's, so are its charges, and
        # without a tenant filter to combine the planner takes the (installment, day) index
        # alone, whatever its statistics say (row-level security still applies).
        charged = PenaltyCharge._base_manager.filter(installment=OuterRef("pk"))
        if penalty.type == LoanProduct.PenaltyType.RATE:
            charged = charged.filter(charged_on=day)
        due |= late & ~Exists(charged)
    rows = (
        Installment.objects.filter(in_batch, due, status=Installment.Status.OVERDUE)
        .order_by("pk")
        .values_list(
            "pk",
            "loan__product_id",
            "loan__day_count",
            "loan__currency",
            "principal",
            "interest",
            "fees",
            "principal_paid",
            "interest_paid",
            "fees_paid",
        )
    )
    charges = []
    for pk, product_id, day_count, currency, *amounts in rows:
        amount = _penalty(products[product_id], day, day_count, amounts)
        if amount > 0:
            charges.append(PenaltyCharge(installment_id=pk, charged_on=day, amount=amount))
            result.penalty_total[currency] = result.penalty_total.get(currency, 0) + amount
    if not charges:
        return
    PenaltyCharge.objects.bulk_create(charges, batch_size=5000)
    result.penalties += len(charges)
    _run(
        """
        UPDATE {installment} SET penalties = {installment}.penalties + c.amount
        FROM {charge} AS c
        WHERE c.installment_id = {installment}.id AND c.tenant_id = %(tenant)s
            AND c.charged_on = %(day)s AND {installment}.tenant_id = %(tenant)s
            AND c.installment_id BETWEEN %(first)s AND %(last)s
        """,
        day=day,
        first=charges[0].installment_id,
        last=charges[-1].installment_id,
    )


def _penalty(penalty, day, day_count, amounts):
    """The charge for one installment on `day`: the flat amount, or a day's interest at the
    penalty rate on what is overdue of the installment (principal, interest and fees; never
    penalties on penalties), by the loan's day count, rounded as the schedule rounds."""
    if penalty.type == LoanProduct.PenaltyType.FLAT:
        return penalty.amount
    principal, interest, fees, principal_paid, interest_paid, fees_paid = amounts
    overdue = principal + interest + fees - principal_paid - interest_paid - fees_paid
    if overdue <= 0:
        return Decimal(0)
    return accrued_interest(
        principal=overdue,
        annual_interest_rate=penalty.rate,
        start=day - ONE_DAY,
        end=day,
        day_count=day_count,
        minor_unit=penalty.minor_unit,
    )


# --- days past due ----------------------------------------------------------------------------


def _days_since(day_param, column):
    """SQL for the whole days from `column` (a date) to the date parameter `day_param`."""
    if connection.vendor == "postgresql":
        return f"(CAST(%({day_param})s AS date) - {column})"
    return f"CAST(julianday(%({day_param})s) - julianday({column}) AS integer)"


def _set_days_past_due(day, low, high):
    """Each active loan of the batch: the days since its oldest overdue installment fell due.
    One UPDATE joined to the oldest overdue due date of each loan, computed in one pass over the
    overdue installments (never a lookup per loan), then one UPDATE back to 0 of the loans no
    longer in arrears."""
    _run(
        """
        UPDATE {loan} SET days_past_due = {days}
        FROM (
            SELECT loan_id, MIN(due_date) AS oldest FROM {installment}
            WHERE tenant_id = %(tenant)s AND status = %(overdue)s
                AND loan_id BETWEEN %(low)s AND %(high)s
            GROUP BY loan_id
        ) AS o
        WHERE {loan}.id = o.loan_id AND {loan}.tenant_id = %(tenant)s
            AND {loan}.status = %(active)s AND {loan}.deleted_at IS NULL
            AND {loan}.days_past_due <> {days}
        """,
        fragments={"days": _days_since("day", "o.oldest")},
        day=day,
        low=low,
        high=high,
    )
    # NOT IN an uncorrelated subquery: one hashed pass over the overdue installments.
    in_arrears = Installment.objects.filter(
        status=Installment.Status.OVERDUE, loan_id__gte=low, loan_id__lte=high
    ).values("loan_id")
    Loan.objects.filter(
        status=Loan.Status.ACTIVE, pk__gte=low, pk__lte=high, days_past_due__gt=0
    ).exclude(pk__in=in_arrears).update(days_past_due=0)


def _run(sql, fragments=None, **params):
    """One statement on the lending tables, for the current tenant (row-level security applies
    to raw SQL as to the ORM; the explicit tenant filter serves the indexes). `{loan}`,
    `{installment}` and `{charge}` name the tables; `fragments` are SQL of this module's own."""
    tables = {
        "loan": Loan._meta.db_table,
        "installment": Installment._meta.db_table,
        "charge": PenaltyCharge._meta.db_table,
    }
    with connection.cursor() as cursor:
        cursor.execute(
            sql.format(
                **{name: connection.ops.quote_name(table) for name, table in tables.items()},
                **(fragments or {}),
            ),
            {
                "tenant": get_current_tenant().pk,
                "overdue": Installment.Status.OVERDUE,
                "active": Loan.Status.ACTIVE,
                **params,
            },
        )
