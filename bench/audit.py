"""What the audit trail costs, and how it holds up at a million events.

    DATABASE_URL=postgres://... .venv/bin/python bench/audit.py [--events 1000000] [--writes 200]

1. Overhead on a write: a customer update through the service and through HTTP (PATCH), with
   the trail connected and disconnected (history rows are written in both: the difference is
   the event, its link rows and the sealing), sealed as configured by default (the process's
   background sealer), in the committing thread (AUDIT_SEAL_DELAY=0) or by cron only. Goal:
   at most 30 %.
2. Concurrent writers of one tenant: customer updates per second with 1, 4 and 8 threads,
   every one writing an event and sealing after commit. No chain lock: it should scale.
3. `verify_audit_chain` over `--events` events of one tenant (events/s), seeded with one
   INSERT ... SELECT and sealed by the sealer (its rate is printed too). The seeded tenant is
   reused by later runs.
4. Filtered audit queries on that tenant (first page of 50, and page 21 of one, p50/p95),
   with a neighbour tenant whose `--neighbour-events` events are newer: a plan that walks the
   whole table in id order looking for this tenant's rows steps over all of them.

PostgreSQL is the point (run `manage.py migrate` first); it runs on SQLite too, smaller.
"""

import argparse
import datetime
import os
import secrets
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Production-like: DEBUG off (no per-query bookkeeping to distort the ratios).
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
os.environ.setdefault("ALLOWED_HOSTS", "testserver")
os.environ.setdefault("STATIC_MANIFEST", "false")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402

from audit import receivers  # noqa: E402
from audit.models import AuditEvent  # noqa: E402
from audit.sealing import seal_chain  # noqa: E402
from audit.selectors import ORDERING, audit_events, history_of  # noqa: E402
from audit.verification import verify_chain  # noqa: E402
from core.api.pagination import keyset_after  # noqa: E402
from core.context import system_scope, tenant_context  # noqa: E402
from core.models import Tenant  # noqa: E402
from core.services import issue_partner_key  # noqa: E402
from customers import services  # noqa: E402
from customers.models import Customer  # noqa: E402

WRITE_TENANT = "bench-audit"
BIG_TENANT = "bench-audit-big"
NEIGHBOUR_TENANT = "bench-audit-neighbour"
STATUSES = ("dormant", "active")  # a service update back and forth, allowed both ways


def tenant_named(slug):
    with system_scope():
        tenant, _ = Tenant.objects.get_or_create(slug=slug, defaults={"name": slug})
    return tenant


def new_customer(tenant, name):
    with tenant_context(tenant), transaction.atomic():
        count = Customer.all_objects.count()
        customer = Customer.objects.create(
            tenant=tenant,
            reference=f"BA-{count + 1:07d}",
            type="individual",
            first_name=name,
            last_name="Bench",
            date_of_birth=datetime.date(1980, 1, 1),
            status="active",
            kyc_status="verified",
        )
    return customer


def per_second(count, seconds):
    return f"{count / seconds:,.0f}/s"


# --- 1. overhead ----------------------------------------------------------------------------


def time_service_updates(tenant, customer, writes):
    start = time.perf_counter()
    with tenant_context(tenant):
        for n in range(writes):
            services.change_status(customer=customer, status=STATUSES[n % 2], by="system:bench")
    return (time.perf_counter() - start) / writes


def time_http_updates(client, headers, reference, writes):
    start = time.perf_counter()
    for n in range(writes):
        response = client.patch(
            f"/api/v1/customers/{reference}",
            {"risk_rating": ("high", "low")[n % 2]},
            content_type="application/json",
            headers=headers,
        )
        assert response.status_code == 200, response.content
    return (time.perf_counter() - start) / writes


def overhead(writes):
    tenant = tenant_named(WRITE_TENANT)
    customer = new_customer(tenant, "Overhead")
    with system_scope():
        _key, raw = issue_partner_key(tenant=tenant, name="bench", scopes=["*"])
    settings.API_RATE_LIMIT = 10**9
    client, headers = Client(), {"Authorization": f"Bearer {raw}"}
    delay = settings.AUDIT_SEAL_DELAY or 0.2
    variants = {  # (trail on, seal on commit, seal delay)
        "trail, background sealer": (receivers.connect, True, delay),
        "trail, sealed in thread": (receivers.connect, True, 0),
        "trail, sealed by cron": (receivers.connect, False, delay),
        "no trail": (receivers.disconnect, True, delay),
    }
    results = {(path, name): [] for path in ("service", "http") for name in variants}
    # Interleaved rounds, so that drift of the shared machine hits every variant alike, and
    # each round compared with itself.
    rounds = 12
    per = max(writes // rounds, 1)
    for _round in range(rounds):
        for name, (switch, seal_on_commit, seal_delay) in variants.items():
            # Untimed: no variant pays for sealing another's events (cron-only leaves a backlog
            # that the next background pass would otherwise seal on the next variant's time).
            seal_everything(tenant)
            switch()
            settings.AUDIT_SEAL_ON_COMMIT = seal_on_commit
            settings.AUDIT_SEAL_DELAY = seal_delay
            results[("service", name)].append(time_service_updates(tenant, customer, per))
            results[("http", name)].append(
                time_http_updates(client, headers, customer.reference, per)
            )
    receivers.connect()
    settings.AUDIT_SEAL_ON_COMMIT, settings.AUDIT_SEAL_DELAY = True, delay
    print(
        "1. Cost of the trail on one customer update (ms per write: median of rounds; overhead:"
        " median of each round's ratio to its own no-trail run, and their range)"
    )
    for path in ("service", "http"):
        offs = results[(path, "no trail")]
        print(f"   {path:8} no trail                 {statistics.median(offs) * 1000:7.2f} ms")
        for name in list(variants)[:-1]:
            ons = results[(path, name)]
            ratios = sorted(100 * (on - off) / off for on, off in zip(ons, offs, strict=True))
            print(
                f"   {path:8} {name:24} {statistics.median(ons) * 1000:7.2f} ms   overhead "
                f"{statistics.median(ratios):+6.1f} % ({ratios[0]:+.0f} to {ratios[-1]:+.0f})"
            )


# --- 2. concurrent writers ------------------------------------------------------------------


def concurrent(seconds):
    tenant = tenant_named(WRITE_TENANT)
    print(f"2. Concurrent writers of one tenant ({seconds} s each; every write = 1 event)")
    for threads in (1, 4, 8):
        customers = [new_customer(tenant, f"Writer{n}") for n in range(threads)]
        counts = [0] * threads
        stop = threading.Event()
        work = _writer(tenant, customers, counts, stop)
        workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
        start = time.perf_counter()
        for worker in workers:
            worker.start()
        time.sleep(seconds)
        stop.set()
        for worker in workers:
            worker.join()
        elapsed = time.perf_counter() - start
        print(
            f"   {threads} thread(s): {sum(counts):6d} events, {per_second(sum(counts), elapsed)}"
        )
    time.sleep(settings.AUDIT_SEAL_DELAY + 1)  # the background sealer's last pass
    sealed = seal_everything(tenant)
    report = verify_chain(tenant.pk)
    print(f"   then: {sealed} left for the safety-net sealer; chain broken: {report.broken}")


def _writer(tenant, customers, counts, stop):
    def work(index):
        try:
            with tenant_context(tenant):
                n = 0
                while not stop.is_set():
                    services.change_status(
                        customer=customers[index], status=STATUSES[n % 2], by="system:bench"
                    )
                    n += 1
                counts[index] = n
        finally:
            connection.close()

    return work


def seal_everything(tenant):
    sealed = 0
    for _attempt in range(600):
        sealed += seal_chain(tenant.pk, batch_size=10_000)
        if not AuditEvent._base_manager.filter(tenant=tenant, hash__isnull=True).exists():
            return sealed
        time.sleep(0.1)
    raise SystemExit("events still wait to be sealed: a long transaction holds the horizon")


# --- 3. a million events --------------------------------------------------------------------

SEED_SQL = """
INSERT INTO audit_auditevent (tenant_id, occurred_at, action, resource_type, resource_id,
    actor, channel, request_id, ip_address, user_agent, changes, related, xid)
SELECT %(tenant)s,
    now() - ((%(count)s - g) * interval '20 seconds'),
    (ARRAY['create', 'update', 'update', 'soft_delete', 'deposit'])[1 + g %% 5],
    CASE WHEN g %% 5 = 4 THEN 'accounts.account' ELSE 'customers.customer' END,
    'CUS-' || lpad((g %% 50000)::text, 6, '0'),
    'user:clerk' || (g %% 40),
    (ARRAY['admin', 'api', 'command'])[1 + g %% 3],
    md5(g::text),
    ('10.0.' || (g %% 250) || '.' || (g %% 200))::inet,
    'bench',
    jsonb_build_object('first_name', jsonb_build_array('A' || g, 'B' || g)),
    '[]'::jsonb,
    pg_current_xact_id()::text::bigint
FROM generate_series(%(first)s, %(last)s) AS g
"""
LINK_SQL = """
INSERT INTO audit_auditeventlink (tenant_id, event_id, resource_type, resource_id)
SELECT tenant_id, id, resource_type, resource_id FROM audit_auditevent
WHERE tenant_id = %s AND id > %s
"""


def seed(tenant, count, step_label):
    """`count` sealed events of `tenant`, seeded if missing."""
    existing = AuditEvent._base_manager.filter(tenant=tenant).count()
    if existing >= count:
        print(f"{step_label} Reusing {existing:,} sealed events of tenant {tenant.slug}")
        return
    if connection.vendor != "postgresql":
        raise SystemExit("seeding uses PostgreSQL's generate_series; pass --events 0")
    print(f"{step_label} Seeding {count - existing:,} events of {tenant.slug} ...", flush=True)
    last_id = AuditEvent._base_manager.order_by("-id").values_list("id", flat=True).first()
    start = time.perf_counter()
    step = 200_000
    for first in range(existing + 1, count + 1, step):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                SEED_SQL,
                {
                    "tenant": tenant.pk,
                    "count": count,
                    "first": first,
                    "last": min(first + step - 1, count),
                },
            )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(LINK_SQL, [tenant.pk, last_id or 0])
        cursor.execute("ANALYZE audit_auditevent")
        cursor.execute("ANALYZE audit_auditeventlink")
    print(f"   seeded in {time.perf_counter() - start:.1f} s", flush=True)
    start = time.perf_counter()
    sealed = seal_everything(tenant)
    elapsed = time.perf_counter() - start
    print(f"   sealed {sealed:,} events in {elapsed:.1f} s ({per_second(sealed, elapsed)})")


def big_chain(count):
    tenant = tenant_named(BIG_TENANT)
    seed(tenant, count, "3.")
    start = time.perf_counter()
    report = verify_chain(tenant.pk)
    elapsed = time.perf_counter() - start
    print(
        f"   verify_audit_chain: {report.verified:,} events in {elapsed:.1f} s "
        f"({per_second(report.verified, elapsed)}); broken: {report.broken}"
    )
    return tenant


# --- 4. filtered queries --------------------------------------------------------------------


def queries(tenant, repeat, neighbour_events):
    print(
        f"4. Filtered audit queries on tenant {BIG_TENANT}, newest first "
        f"(a page of 50, {repeat} runs)"
    )
    if neighbour_events:
        seed(tenant_named(NEIGHBOUR_TENANT), neighbour_events, "  ")
    with tenant_context(tenant):
        newest = AuditEvent.objects.values_list("occurred_at", flat=True).first()
        # The last row of page 20: page 21 starts after it.
        page_21 = audit_events(action="update", channel="api").values_list("occurred_at", "id")[999]
    since = newest - datetime.timedelta(hours=6)  # about the last thousand events
    cases = [
        (
            "resource",
            lambda: audit_events(resource_type="customers.customer", resource_id="CUS-012345"),
        ),
        ("actor", lambda: audit_events(actor="user:clerk7")),
        ("action+channel", lambda: audit_events(action="soft_delete", channel="api")),
        (
            "  same, page 21",
            lambda: audit_events(action="update", channel="api").filter(
                keyset_after(ORDERING, page_21)
            ),
        ),
        ("last 6 hours", lambda: audit_events(occurred_from=since)),
        ("customer history", lambda: history_of(Customer(reference="CUS-012345"))),
    ]
    with tenant_context(tenant):
        for label, build in cases:
            times = []
            for _ in range(repeat):
                start = time.perf_counter()
                rows = list(build().order_by(*ORDERING)[:50])
                times.append((time.perf_counter() - start) * 1000)
            times.sort()
            p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
            print(
                f"   {label:17} p50 {statistics.median(times):7.2f} ms   p95 {p95:7.2f} ms"
                f"   ({len(rows)} rows)"
            )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--writes", type=int, default=200, help="writes per overhead case")
    parser.add_argument("--seconds", type=int, default=5, help="per concurrency level")
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument(
        "--neighbour-events", type=int, default=200_000, help="a newer tenant's, for step 4"
    )
    options = parser.parse_args()
    print(f"database: {connection.vendor}")
    overhead(options.writes)
    concurrent(options.seconds)
    if options.events:
        tenant = big_chain(options.events)
        queries(tenant, options.repeat, options.neighbour_events)


if __name__ == "__main__":
    main()
