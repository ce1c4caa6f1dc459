"""What row-level security costs the customers API: detail, list and search, with and without.

    DATABASE_URL=postgres://ledgerline_app@127.0.0.1:5432/ledgerline \\
    MIGRATE_DATABASE_URL=postgres://postgres@127.0.0.1:5432/ledgerline \\
        .venv/bin/python bench/rls.py [--customers 30000] [--other 3000] [--seconds 12]

Needs PostgreSQL, migrated (`manage.py migrate`), DATABASE_URL the app's ordinary role and
MIGRATE_DATABASE_URL a superuser. Seeds `--customers` customers into the tenant `bench` (as
bench/customers.py does, same data) and `--other` into `bench-other`, then serves the three
endpoints through Django's test client (every middleware, the partner key, the pool):

- "without RLS": connected as the superuser (PostgreSQL skips every policy for it) and with the
  tenant setting not sent at all: the app as it was before row-level security;
- "with RLS": connected as the app role: policies applied, the tenant sent per transaction.

alternating the two in short rounds, and prints requests per second and the ratio; then the
detail query alone (each on a connection fresh from the pool) as the superuser without and with
the setting and as the app role, to separate the cost of the setting from that of the policy;
then the EXPLAIN (ANALYZE) of each endpoint's main query as the app role and as the superuser,
to show the `(tenant_id, ...)` indexes still serve them. About 3 minutes with the defaults once
seeded (seeding 50,000 customers takes about 40 s; a second run reuses them).
"""

import argparse
import logging
import os
import random
import statistics
import sys
import time
from contextlib import nullcontext
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "true")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client, override_settings  # noqa: E402

from bench import customers as seeding  # noqa: E402
from core.context import system_scope, tenant_context  # noqa: E402
from core.db import tenant_setting  # noqa: E402
from core.db.rls import current_role  # noqa: E402
from core.db.roles import as_migrating_role  # noqa: E402
from core.models import Tenant  # noqa: E402
from core.services import issue_partner_key  # noqa: E402
from customers.models import Customer  # noqa: E402
from customers.selectors import LIST_ORDERING, SEARCH_ORDERING, search_customers  # noqa: E402

SEARCH = "Kowalksi"  # a misspelt surname: the trigram index's work


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=30_000)
    parser.add_argument("--other", type=int, default=3_000)
    parser.add_argument("--seconds", type=float, default=12.0, help="per endpoint and mode")
    parser.add_argument("--rounds", type=int, default=6, help="alternations of the two modes")
    args = parser.parse_args()
    if connection.vendor != "postgresql" or not settings.MIGRATE_DATABASE:
        sys.exit("Set DATABASE_URL (the app role) and MIGRATE_DATABASE_URL (a superuser).")
    for name in ("ledgerline.request", "ledgerline.slow_query"):
        logging.getLogger(name).setLevel(logging.ERROR)  # a line per request would be the bench
    app = current_role(connection)
    if app.bypasses_rls:
        sys.exit(f"DATABASE_URL's role {app.name} bypasses row-level security: use the app role.")

    tenant, _other = seed(args.customers, args.other)
    with system_scope():
        _key, raw_key = issue_partner_key(tenant=tenant, name="bench", scopes=["*"])
        reference = Customer.objects.filter(tenant=tenant).order_by("pk")[args.customers // 2]
        reference = reference.reference
    paths = {
        "detail": f"/api/v1/customers/{reference}",
        "list (50)": "/api/v1/customers?limit=50",
        f"search {SEARCH!r} (50)": f"/api/v1/customers?q={SEARCH}&limit=50",
    }
    print(f"tenant bench: {args.customers:,} customers; bench-other: {args.other:,}")
    print(f"app role: {app.name}; {args.seconds:g} s per endpoint and mode\n")

    with as_migrating_role():
        owner = current_role(connection).name
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE customers_customer")
    # The two modes alternate in short rounds, so that load from elsewhere on the machine
    # weighs on both alike (each round opens a fresh pool for either role).
    without, with_rls = dict.fromkeys(paths, 0.0), dict.fromkeys(paths, 0.0)

    def run_without():
        with as_migrating_role():
            add(without, measure(paths, raw_key, args.seconds / args.rounds, send_setting=False))

    def run_with():
        add(with_rls, measure(paths, raw_key, args.seconds / args.rounds, send_setting=True))

    for number in range(args.rounds):  # which mode goes first alternates too
        for run in (run_without, run_with) if number % 2 == 0 else (run_with, run_without):
            run()

    print(f"{'endpoint':<28} {'without RLS':>16} {'with RLS':>16} {'ratio':>7}")
    print(f"{'':<28} {'(' + owner + ')':>16} {'(' + app.name + ')':>16}")
    for name in paths:
        before, after = without[name] / args.rounds, with_rls[name] / args.rounds
        print(f"{name:<28} {before:>12.1f} r/s {after:>12.1f} r/s {after / before:>7.2f}")

    statement_cost(tenant, reference, args.rounds)
    explain(tenant, reference)


def seed(count, other_count):
    with system_scope():
        tenant, _ = Tenant.objects.get_or_create(slug="bench", defaults={"name": "Benchmark Bank"})
        other, _ = Tenant.objects.get_or_create(slug="bench-other", defaults={"name": "Other"})
    started = time.perf_counter()
    with tenant_context(tenant):
        if Customer.objects.count() != count + len(seeding.GROUP_PEOPLE) + len(
            seeding.GROUP_COMPANIES
        ):
            seeding.seed(tenant, count)
    with tenant_context(other):
        if Customer.objects.count() != other_count:
            rows = Customer._base_manager.filter(tenant=other)
            rows._raw_delete(rows.db)
            rng = random.Random(7)
            made = [seeding.make_customer(other, rng, n) for n in range(1, other_count + 1)]
            Customer.objects.bulk_create(made, batch_size=seeding.BATCH)
    print(f"seeded (or reused) in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return tenant, other


def add(totals, results):
    for name, (done, elapsed) in results.items():
        totals[name] += done / elapsed  # summed rates, averaged over the rounds when printed
    return totals


def measure(paths, raw_key, seconds, *, send_setting):
    """(requests, seconds) of each path over about `seconds`, after a warm-up."""
    client = Client(headers={"Authorization": f"Bearer {raw_key}"})
    original = tenant_setting.TenantSettingMixin._values_to_send
    if not send_setting:  # the baseline: no setting at all, as before row-level security
        tenant_setting.TenantSettingMixin._values_to_send = lambda self, query: None
    try:
        results = {}
        with override_settings(API_RATE_LIMIT=10**9):
            for name, path in paths.items():
                for _ in range(2):
                    check(client.get(path))
                done, started = 0, time.perf_counter()
                while (elapsed := time.perf_counter() - started) < seconds:
                    check(client.get(path))
                    done += 1
                results[name] = (done, elapsed)
        return results
    finally:
        tenant_setting.TenantSettingMixin._values_to_send = original


def statement_cost(tenant, reference, rounds, count=300):
    """The detail query alone, `count` times per round, each on a connection just taken from the
    pool (as a request does): where the milliseconds go, without the rest of a request."""
    original = tenant_setting.TenantSettingMixin._values_to_send

    def run():
        with tenant_context(tenant):
            Customer.objects.filter(reference=reference).first()
            started = time.perf_counter()
            for _ in range(count):
                Customer.objects.filter(reference=reference).first()
                connection.close()  # back to the pool
            return (time.perf_counter() - started) / count * 1000

    modes = {
        "superuser, no setting sent (before)": [],
        "superuser, setting sent": [],
        "app role, setting sent, policy (after)": [],
    }
    for _ in range(rounds):
        with as_migrating_role():
            tenant_setting.TenantSettingMixin._values_to_send = lambda self, query: None
            try:
                modes["superuser, no setting sent (before)"].append(run())
            finally:
                tenant_setting.TenantSettingMixin._values_to_send = original
            modes["superuser, setting sent"].append(run())
        modes["app role, setting sent, policy (after)"].append(run())
    print(f"\n{'detail query + pool checkout':<40} {'median ms':>10}")
    for name, values in modes.items():
        print(f"{name:<40} {statistics.median(values):>10.3f}")


def check(response):
    if response.status_code != 200:
        sys.exit(f"unexpected {response.status_code}: {response.content[:300]!r}")
    return response


def explain(tenant, reference):
    queries = {
        "detail": lambda: Customer.objects.filter(reference=reference),
        "list": lambda: search_customers().order_by(*LIST_ORDERING)[:51],
        "search": lambda: search_customers(q=SEARCH).order_by(*SEARCH_ORDERING)[:51],
    }
    for name, queryset in queries.items():
        for role, switch in (("the app role", nullcontext), ("the superuser", as_migrating_role)):
            with switch(), tenant_context(tenant):
                plan = queryset().explain(analyze=True, costs=False, timing=False)
            print(f"\n--- EXPLAIN ANALYZE, {name}, as {role} ---")
            for line in plan.splitlines():
                print(line if len(line) <= 160 else line[:157] + "...")


if __name__ == "__main__":
    main()
