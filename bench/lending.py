"""What lending costs: schedules, close of day over 100,000 loans, repayments through the API.

    DATABASE_URL=postgres://... REDIS_URL=redis://... .venv/bin/python bench/lending.py \\
        [--loans 100000] [--seconds 5] [--repayments 200]

Run `manage.py migrate` on that database first.

1. Schedules per second: `build_schedule` of a 360-installment monthly annuity (pure maths).
2. Close of day over `--loans` active loans of 12 monthly installments each, one in ten in
   arrears, half of them on a product with a flat penalty, half on one with a daily rate,
   seeded once with INSERT ... SELECT (journals and postings included, so the ledger still
   reconciles) and reset before each run. Two days are closed: the first, which finds every
   arrear at once (the backlog of a first run), then the next (a normal day). Seconds and
   queries of each. Goal: under 60 s for a day.
3. Repayments per second through the API (`POST /api/v1/loans/{ref}/repayments`, in-process
   `django.test.Client`, an `Idempotency-Key` on each, audit on), on loans disbursed through
   the services. Skipped, saying why, where the lending API or services are missing.
4. Portfolio at risk over the seeded loans: seconds and queries.

PostgreSQL is the point (seeding uses generate_series).
"""

import argparse
import datetime
import os
import secrets
import sys
import time
import uuid
import warnings
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Production-like: DEBUG off (no per-query bookkeeping), request log lines not printed.
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,testserver")
os.environ.setdefault("STATIC_MANIFEST", "false")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django

django.setup()
warnings.filterwarnings("ignore", message="No directory at")

from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import Resolver404, resolve  # noqa: E402

from accounts import services as accounts  # noqa: E402
from accounts.models import Account, InternalCode  # noqa: E402
from core.context import system_scope, tenant_context  # noqa: E402
from core.models import Tenant  # noqa: E402
from core.services import issue_partner_key  # noqa: E402
from customers.models import Customer  # noqa: E402
from lending import close_of_day  # noqa: E402
from lending.models import LoanProduct  # noqa: E402
from lending.reports import portfolio_at_risk  # noqa: E402
from lending.schedule import Terms, build_schedule  # noqa: E402

TENANT = "bench-lending"
CLOSE_ON = datetime.date(2027, 6, 1)  # the first day closed; the second is the next


def per_second(count, seconds):
    return f"{count / seconds:,.0f}/s"


def bench_tenant():
    with system_scope():
        tenant, _ = Tenant.objects.get_or_create(slug=TENANT, defaults={"name": "Bench lending"})
    return tenant


def bench_customer(tenant):
    """One active, verified customer with a funded current account, made once."""
    with tenant_context(tenant):
        customer, _ = Customer.objects.get_or_create(
            tenant=tenant,
            reference="BENCH-LENDING",
            defaults={
                "type": "individual",
                "first_name": "Bench",
                "last_name": "Borrower",
                "date_of_birth": datetime.date(1980, 1, 1),
                "status": "active",
                "kyc_status": "verified",
            },
        )
        account = Account.objects.filter(customer=customer).order_by("pk").first()
        if account is None:
            account = accounts.open_account(
                customer=customer, product="current", currency="EUR", by="system:bench"
            )
            accounts.deposit(account=account, amount=Decimal("1000000000"), by="system:bench")
    return customer, account


# --- 1. schedules -----------------------------------------------------------------------------


def schedules(seconds):
    terms = Terms(
        principal=Decimal("250000.00"),
        annual_interest_rate=Decimal("4.5"),
        number_of_installments=360,
        repayment_frequency="monthly",
        interest_method="declining_balance",
        amortization="equal_installments",
        day_count="actual/365",
        start_date=datetime.date(2027, 1, 31),
    )
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        build_schedule(terms)
        count += 1
    elapsed = time.perf_counter() - start
    print(
        f"1. Schedules of 360 monthly installments (annuity, actual/365, month ends): "
        f"{per_second(count, elapsed)} ({1000 * elapsed / count:.1f} ms each)"
    )


# --- 2. close of day --------------------------------------------------------------------------

SEED_JOURNALS = """
INSERT INTO accounts_journal (tenant_id, created_at, public_id, kind, description, actor,
    channel, request_id, idempotency_key, value_date)
SELECT %(tenant)s, now(), gen_random_uuid(), 'loan_disbursement', 'bench loan ' || g,
    'system:bench', 'command', '', 'bench-loan-' || g, %(on)s::date - 360 + g %% 360
FROM generate_series(1, %(loans)s) AS g
"""
SEED_POSTINGS = """
INSERT INTO accounts_posting (tenant_id, public_id, journal_id, account_id, amount,
    balance_after, kind, description, value_date, posted_at, external_reference)
SELECT j.tenant_id, gen_random_uuid(), j.id, side.account_id, side.sign * 1200,
    side.sign * 1200 * row_number() OVER (PARTITION BY side.account_id ORDER BY j.id)
        + side.opening,
    'loan_disbursement', j.description, j.value_date, now(), ''
FROM accounts_journal j
CROSS JOIN (VALUES (%(portfolio)s, -1, %(portfolio_balance)s),
                   (%(account)s, 1, %(account_balance)s)) AS side(account_id, sign, opening)
WHERE j.tenant_id = %(tenant)s AND j.idempotency_key LIKE 'bench-loan-%%'
"""
SEED_BALANCES = """
UPDATE accounts_accountbalance b SET balance = s.total
FROM (SELECT account_id, sum(amount) AS total FROM accounts_posting
      WHERE tenant_id = %(tenant)s AND account_id IN (%(portfolio)s, %(account)s)
      GROUP BY account_id) s
WHERE b.account_id = s.account_id
"""
SEED_LOANS = """
INSERT INTO lending_loan (tenant_id, created_at, updated_at, deleted_by, reference, currency,
    principal, annual_interest_rate, number_of_installments, repayment_frequency,
    interest_method, amortization, day_count, grace_installments, start_date, status,
    submitted_on, submitted_by, approved_on, approved_by, decided_by, decision_reason,
    disbursed_on, maturity_date, days_past_due, account_id, customer_id,
    disbursement_journal_id, product_id)
SELECT j.tenant_id, now(), now(), '', 'LN-B' || lpad(g::text, 7, '0'), 'EUR',
    1200, 12, 12, 'monthly', 'declining_balance', 'equal_principal', 'actual/365', 0,
    j.value_date, 'active', j.value_date, 'system:bench', j.value_date, 'system:bench2', '', '',
    j.value_date, j.value_date + interval '12 months', 0, %(account)s, %(customer)s, j.id,
    CASE WHEN g %% 2 = 0 THEN %(flat)s ELSE %(rate)s END
FROM accounts_journal j, LATERAL (SELECT substr(j.idempotency_key, 12)::int AS g) AS n
WHERE j.tenant_id = %(tenant)s AND j.idempotency_key LIKE 'bench-loan-%%'
"""
# 12 installments of 100.00 + 10.00; those due before the day are paid, except on one loan
# in ten, whose last three due (at most) are not: some one month late, some three.
SEED_INSTALLMENTS = """
INSERT INTO lending_installment (tenant_id, created_at, updated_at, loan_id, number, due_date,
    principal, interest, fees, penalties, principal_paid, interest_paid, fees_paid,
    penalties_paid, status, paid_on)
SELECT l.tenant_id, now(), now(), l.id, k, due, 100, 10, 0, 0,
    CASE WHEN paid THEN 100 ELSE 0 END, CASE WHEN paid THEN 10 ELSE 0 END, 0, 0,
    CASE WHEN paid THEN 'paid' ELSE 'pending' END, CASE WHEN paid THEN due END
FROM lending_loan l
CROSS JOIN generate_series(1, 12) AS k
CROSS JOIN LATERAL (SELECT (l.start_date + make_interval(months => k))::date AS due) AS d
CROSS JOIN LATERAL (
    SELECT due < %(on)s::date AND NOT (
        l.id %% 20 IN (0, 5)
        AND due >= %(on)s::date - make_interval(months => (1 + (l.id / 20) %% 3)::int)
    ) AS paid
) AS p
WHERE l.tenant_id = %(tenant)s
"""
# Back to the seeded state: what the previous run wrote is undone.
RESET = [
    "DELETE FROM lending_penaltycharge WHERE tenant_id = %(tenant)s",
    """UPDATE lending_installment SET status = 'pending', penalties = 0
       WHERE tenant_id = %(tenant)s AND status <> 'paid'""",
    "UPDATE lending_loan SET days_past_due = 0 WHERE tenant_id = %(tenant)s",
    "DELETE FROM lending_closedday WHERE tenant_id = %(tenant)s",
]


def products(tenant):
    with tenant_context(tenant):
        common = {
            "currency": "EUR",
            "min_principal": 100,
            "max_principal": 1_000_000,
            "min_interest_rate": 0,
            "max_interest_rate": 40,
            "min_installments": 1,
            "max_installments": 360,
        }
        flat, _ = LoanProduct.all_objects.get_or_create(
            reference="LPR-B00001",
            defaults={
                **common,
                "name": "Bench flat penalty",
                "penalty_type": "flat",
                "penalty_amount": Decimal("15.00"),
                "penalty_tolerance_days": 5,
            },
        )
        rate, _ = LoanProduct.all_objects.get_or_create(
            reference="LPR-B00002",
            defaults={
                **common,
                "name": "Bench rate penalty",
                "penalty_type": "rate",
                "penalty_rate": Decimal("24"),
                "penalty_tolerance_days": 3,
            },
        )
    return flat, rate


def seed(tenant, loans):
    flat, rate = products(tenant)
    customer, account = bench_customer(tenant)
    with system_scope():
        existing = tenant_loans(tenant)
        if existing >= loans:
            print(f"2. Reusing {existing:,} seeded loans of tenant {TENANT}")
            with transaction.atomic(), connection.cursor() as cursor:
                for statement in RESET:
                    cursor.execute(statement, {"tenant": tenant.pk})
            return existing
        if existing:
            raise SystemExit(f"tenant {TENANT} has {existing} loans, fewer than --loans")
        portfolio = Account.objects.get(
            tenant=tenant, internal_code=InternalCode.LOAN_PORTFOLIO, currency="EUR"
        )
        params = {
            "tenant": tenant.pk,
            "loans": loans,
            "on": CLOSE_ON,
            "portfolio": portfolio.pk,
            "portfolio_balance": portfolio.ledger_balance.balance,
            "account": account.pk,
            "account_balance": account.ledger_balance.balance,
            "customer": customer.pk,
            "flat": flat.pk,
            "rate": rate.pk,
        }
        print(f"2. Seeding {loans:,} active loans of 12 installments (INSERT ... SELECT) ...")
        start = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            for statement in (
                SEED_JOURNALS,
                SEED_POSTINGS,
                SEED_BALANCES,
                SEED_LOANS,
                SEED_INSTALLMENTS,
            ):
                cursor.execute(statement, params)
        with connection.cursor() as cursor:
            for table in ("lending_loan", "lending_installment", "accounts_journal"):
                cursor.execute(f"ANALYZE {table}")
        print(f"   seeded in {time.perf_counter() - start:.1f} s")
    return loans


def tenant_loans(tenant):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM lending_loan WHERE tenant_id = %s AND status = 'active'",
            [tenant.pk],
        )
        return cursor.fetchone()[0]


def close_days(tenant):
    for label, on in (
        ("first day (backlog)", CLOSE_ON),
        ("next day", CLOSE_ON + close_of_day.ONE_DAY),
    ):
        with CaptureQueriesContext(connection) as queries:
            start = time.perf_counter()
            (result,) = close_of_day.run_close_of_day(on=on, tenant=tenant)
            elapsed = time.perf_counter() - start
        penalties = ", ".join(f"{amount} {code}" for code, amount in result.penalty_total.items())
        if os.environ.get("BENCH_SLOW"):
            for query in sorted(queries.captured_queries, key=lambda q: -float(q["time"]))[:6]:
                print(f"      {query['time']} s  {query['sql'][:300]}")
        print(
            f"   close of day {on} ({label}): {elapsed:.1f} s, {len(queries)} queries; "
            f"{result.loans:,} loans, {result.overdue:,} installments overdue, "
            f"{result.penalties:,} penalties ({penalties}), {result.in_arrears:,} in arrears"
        )


# --- 3. repayments through the API ------------------------------------------------------------


# Repayments go to a loan disbursed ten years ago (120 monthly installments due), so each pays
# installments due (paying ahead of schedule recomputes the installments to come: another cost).
PAST = datetime.date.today() - datetime.timedelta(days=3650)


def repayments(tenant, count, installments):
    """Through the API when it is routed; through the service (with an idempotency key each)
    otherwise, saying so."""
    try:
        from lending import services
    except ImportError:
        print("3. Repayments: skipped (lending.services is not on this branch)")
        return
    customer, account = bench_customer(tenant)
    flat, _rate = products(tenant)
    with tenant_context(tenant):
        loan = services.apply_for_loan(
            customer=customer,
            product=flat,
            account=account,
            principal=Decimal("500000.00"),
            annual_interest_rate=Decimal("6"),
            number_of_installments=installments,
            repayment_frequency="monthly",
            start_date=PAST,
            by="system:bench",
        )
        services.approve_loan(loan=loan, by="system:bench-approver")
        loan = services.disburse_loan(loan=loan, on=PAST, by="system:bench")
    path = f"/api/v1/loans/{loan.reference}/repayments"
    if _routed(path):
        client = Client()
        with system_scope():
            _key, raw = issue_partner_key(tenant=tenant, name="bench", scopes=["*"])
        headers = {"Authorization": f"Bearer {raw}"}
        settings.API_RATE_LIMIT = 10**9

        def repay():
            response = client.post(
                path,
                {"amount": "10.00"},
                content_type="application/json",
                headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
            )
            assert response.status_code == 201, response.content

        label = "through the API (one in-process client, an Idempotency-Key each)"
    else:

        def repay():
            with tenant_context(tenant):
                services.repay_loan(
                    loan=loan, amount=Decimal("10.00"), idempotency_key=str(uuid.uuid4())
                )

        label = f"through lending.services.repay_loan ({path} is not routed on this branch)"
    start = time.perf_counter()
    for _ in range(count):
        repay()
    elapsed = time.perf_counter() - start
    print(
        f"3. Repayments (10.00, of installments due) of a {installments}-installment loan {label}: "
        f"{per_second(count, elapsed)} ({1000 * elapsed / count:.1f} ms each)"
    )


def _routed(path):
    try:
        resolve(path)
    except Resolver404:
        return False
    return True


# --- 4. portfolio at risk ---------------------------------------------------------------------


def par(tenant):
    with tenant_context(tenant), CaptureQueriesContext(connection) as queries:
        start = time.perf_counter()
        report = portfolio_at_risk(on=CLOSE_ON + close_of_day.ONE_DAY)
        elapsed = time.perf_counter() - start
    total = report.totals[0]
    print(
        f"4. Portfolio at risk over {total.loans:,} loans: {elapsed:.2f} s, {len(queries)} "
        f"query; PAR 1/30/60/90 = "
        + " / ".join(f"{total.ratio(days)} %" for days in (1, 30, 60, 90))
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loans", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=5, help="for the schedules")
    parser.add_argument("--repayments", type=int, default=200)
    parser.add_argument("--installments", type=int, default=360, help="of the repaid loan")
    options = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("the bench seeds with PostgreSQL's generate_series: set DATABASE_URL")
    print(f"database: {connection.vendor}")
    schedules(options.seconds)
    tenant = bench_tenant()
    if options.loans:
        seed(tenant, options.loans)
        close_days(tenant)
    if options.repayments:
        repayments(tenant, options.repayments, options.installments)
    if options.loans:
        par(tenant)


if __name__ == "__main__":
    main()
