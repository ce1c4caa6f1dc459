"""Portfolio at risk (PAR): how much of the outstanding principal is owed by late loans
(docs/lending.md, "Portfolio at risk").

PAR n on a date is the outstanding principal of the active loans at least n days past due that
day, as a share of the outstanding principal of all active loans: PAR 1, 30, 60 and 90, per
product and in total per currency (amounts of different currencies are never added up).
"""

import datetime
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from django.db.models import Count, DecimalField, F, Min, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import AMOUNT
from lending.models import Installment, Loan

THRESHOLDS = (1, 30, 60, 90)
ZERO = Decimal(0)


@dataclass(frozen=True)
class ParRow:
    """One product's figures, or (`product` empty) one currency's total."""

    product: str  # the product's reference; "" for a total
    name: str
    currency: str
    loans: int
    outstanding: Decimal  # principal outstanding on every active loan
    at_risk: dict  # {n: principal outstanding on the loans at least n days past due}

    def ratio(self, days):
        """PAR `days` in percent, two places (0 when nothing is outstanding)."""
        if not self.outstanding:
            return Decimal("0.00")
        share = 100 * self.at_risk[days] / self.outstanding
        return share.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True)
class ParReport:
    on: datetime.date
    products: list  # [ParRow] by product name
    totals: list  # [ParRow] one per currency


def portfolio_at_risk(*, on=None):
    """The current tenant's PAR on `on` (default: today), in one aggregate query.

    A loan is n days past due on a date when its oldest installment not fully paid fell due n
    days before it, as close of day counts `days_past_due`; the amounts are those owed now, so
    a past date shows the loans that were late then with what they still owe today."""
    on = on or timezone.localdate()
    installments = Installment.objects.filter(loan=OuterRef("pk")).order_by().values("loan")
    outstanding = installments.annotate(
        owed=Sum(F("principal") - F("principal_paid"), output_field=_amount())
    ).values("owed")
    oldest_unpaid = (
        installments.filter(due_date__lt=on)
        .exclude(status=Installment.Status.PAID)
        .annotate(oldest=Min("due_date"))
        .values("oldest")
    )
    at_risk = {
        f"par{days}": Coalesce(
            Sum("outstanding", filter=Q(oldest_unpaid__lte=on - datetime.timedelta(days=days))),
            Value(ZERO),
            output_field=_amount(),
        )
        for days in THRESHOLDS
    }
    rows = (
        Loan.objects.filter(status=Loan.Status.ACTIVE, disbursed_on__lte=on)
        .annotate(
            outstanding=Coalesce(Subquery(outstanding), Value(ZERO), output_field=_amount()),
            oldest_unpaid=Subquery(oldest_unpaid),
        )
        .values("product__reference", "product__name", "currency")
        .annotate(loans=Count("pk"), total=Sum("outstanding"), **at_risk)
        .order_by("product__name", "product__reference", "currency")
    )
    products = [
        ParRow(
            product=row["product__reference"],
            name=row["product__name"],
            currency=row["currency"],
            loans=row["loans"],
            outstanding=row["total"] or ZERO,
            at_risk={days: row[f"par{days}"] for days in THRESHOLDS},
        )
        for row in rows
    ]
    return ParReport(on=on, products=products, totals=_totals(products))


def _totals(products):
    by_currency = {}
    for row in products:
        total = by_currency.setdefault(
            row.currency,
            {"loans": 0, "outstanding": ZERO, "at_risk": dict.fromkeys(THRESHOLDS, ZERO)},
        )
        total["loans"] += row.loans
        total["outstanding"] += row.outstanding
        for days in THRESHOLDS:
            total["at_risk"][days] += row.at_risk[days]
    return [
        ParRow(product="", name=f"Total {currency}", currency=currency, **figures)
        for currency, figures in sorted(by_currency.items())
    ]


def _amount():
    return DecimalField(**AMOUNT)
