"""Portfolio at risk (PAR): how much of the outstanding principal is owed by late loans
(docs/lending.md, "Portfolio at risk").

PAR n on a date is the outstanding principal of the active loans at least n days past due that
day, as a share of the outstanding principal of all active loans: PAR 1, 30, 60 and 90, per
product and in total per currency (amounts of different currencies are never added up).
"""

import datetime
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from django.db import connection
from django.utils import timezone

from accounts.models import AMOUNT
from core.context import get_current_tenant
from lending.models import Installment, Loan, LoanProduct

THRESHOLDS = (1, 30, 60, 90)
ZERO = Decimal(0)
_PLACES = Decimal(1).scaleb(-AMOUNT["decimal_places"])


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


# One pass over the installments of the active loans: each loan's outstanding principal and the
# due date of its oldest installment not fully paid that fell due before the date; then one
# aggregate per product. (The ORM would repeat a per-loan subquery in every aggregate.)
_PAR_SQL = """
SELECT p.reference, p.name, l.currency, COUNT(*), SUM(o.owed), {at_risk}
FROM (
    SELECT i.loan_id,
        SUM(i.principal - i.principal_paid) AS owed,
        MIN(CASE WHEN i.status <> %(paid)s AND i.due_date < %(on)s THEN i.due_date END) AS oldest
    FROM {installment} AS i
    JOIN {loan} AS l ON l.id = i.loan_id
    WHERE i.tenant_id = %(tenant)s AND l.tenant_id = %(tenant)s AND l.status = %(active)s
        AND l.deleted_at IS NULL AND l.disbursed_on <= %(on)s
    GROUP BY i.loan_id
) AS o
JOIN {loan} AS l ON l.id = o.loan_id
JOIN {product} AS p ON p.id = l.product_id
GROUP BY p.reference, p.name, l.currency
ORDER BY p.name, p.reference, l.currency
"""


def portfolio_at_risk(*, on=None):
    """The current tenant's PAR on `on` (default: today), in one aggregate query.

    A loan is n days past due on a date when its oldest installment not fully paid fell due n
    days before it, as close of day counts `days_past_due`; the amounts are those owed now, so
    a past date shows the loans that were late then with what they still owe today."""
    on = on or timezone.localdate()
    names = {
        "installment": Installment._meta.db_table,
        "loan": Loan._meta.db_table,
        "product": LoanProduct._meta.db_table,
    }
    at_risk = ", ".join(
        f"SUM(CASE WHEN o.oldest <= %(late{days})s THEN o.owed ELSE 0 END)" for days in THRESHOLDS
    )
    sql = _PAR_SQL.format(
        at_risk=at_risk, **{name: connection.ops.quote_name(table) for name, table in names.items()}
    )
    params = {
        "tenant": get_current_tenant().pk,
        "on": on,
        "paid": Installment.Status.PAID,
        "active": Loan.Status.ACTIVE,
        **{f"late{days}": on - datetime.timedelta(days=days) for days in THRESHOLDS},
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    products = [
        ParRow(
            product=reference,
            name=name,
            currency=currency,
            loans=loans,
            outstanding=_money(total),
            at_risk={
                days: _money(amount) for days, amount in zip(THRESHOLDS, amounts, strict=True)
            },
        )
        for reference, name, currency, loans, total, *amounts in rows
    ]
    return ParReport(on=on, products=products, totals=_totals(products))


def _money(value):
    """A sum as a Decimal of the ledger's precision (SQLite sums decimals as floats)."""
    return Decimal(str(value or 0)).quantize(_PLACES)


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
