"""Customer search and beneficial-owner latency on a tenant of realistic size.

    .venv/bin/python bench/customers.py [--customers 100000] [--repeat 50]

Seeds `--customers` customers (plus ownership groups) into the tenant `bench`, replacing
whatever customers that tenant had, runs ANALYZE, then times `search_customers` (first 50 rows,
best match first) for a few queries and `beneficial_owners` on a 4-level structure with a
diamond and on layered structures (`--layers`: each company held half-and-half by the two
companies of the layer above, 2^(layers - 1) paths per owner). It prints the median and
95th-percentile latency and the number of SQL queries of each, and the plan's scans of each
search (EXPLAIN, on PostgreSQL). Search aims at p95 < 50 ms. Uses the database of DATABASE_URL
(SQLite under var/ by default); run `manage.py migrate` first. Data is deterministic (seeded
random), so runs are comparable; the planner's statistics come from a random sample each run.
"""

import argparse
import datetime
import json
import math
import os
import random
import statistics
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "true")

import django

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from core.context import system_scope, tenant_context  # noqa: E402
from core.models import Tenant  # noqa: E402
from customers.models import Customer, CustomerRelationship  # noqa: E402
from customers.ownership import beneficial_owners  # noqa: E402

BATCH = 5_000
TENANT_SLUG = "bench"
REFERENCE = "BEN-{:07d}"

# fmt: off
FIRST_NAMES = [
    "Oliver", "Amelia", "Noah", "Olivia", "Liam", "Isla", "Lucas", "Sofia", "Mateo", "Emma",
    "Arjun", "Priya", "Wei", "Mei", "Omar", "Layla", "Kwame", "Amara", "Hiroshi", "Yuki",
    "Jakub", "Zofia", "Lars", "Ingrid", "Diego", "Lucia", "Tomas", "Elena", "Ravi", "Ananya",
    "Chloe", "Jack", "Grace", "Henry", "Freya", "Samuel", "Aisha", "Daniel", "Nora", "Felix",
]
LAST_NAMES = [
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel",
    "Wright", "Kowalski", "Nowak", "Lindqvist", "Johansson", "Fernandes", "Gonzalez", "Rossi",
    "Bianchi", "Moreau", "Dubois", "Okafor", "Mensah", "Nakamura", "Tanaka", "Chen", "Wang",
    "Singh", "Sharma", "Haddad", "Khalil", "Murphy", "O'Brien", "Schneider", "Fischer",
    "Novak", "Horvat", "Papadopoulos", "Yilmaz", "Andersen", "Van der Berg", "Kaminski",
    "Fitzgerald", "MacLeod", "Abara", "Castellanos", "Ivanova", "Petrenko", "Lopez", "Silva",
    "Costa",
]
COMPANY_WORDS = [
    "Harbour", "Northwind", "Summit", "Meridian", "Granite", "Willow", "Beacon", "Atlas",
    "Crescent", "Evergreen", "Falcon", "Juniper", "Keystone", "Lighthouse", "Orchard", "Pioneer",
    "Riverside", "Sterling", "Thistle", "Vantage",
]
COMPANY_KINDS = [
    "Logistics", "Foods", "Engineering", "Capital", "Holdings", "Textiles", "Software",
    "Construction", "Trading", "Pharma", "Energy", "Dental",
]
COMPANY_SUFFIXES = ["Ltd", "LLP", "GmbH", "SA", "BV", "plc"]
CITIES = [
    ("London", "GB"), ("Manchester", "GB"), ("Dublin", "IE"), ("Lisbon", "PT"),
    ("Madrid", "ES"), ("Milan", "IT"), ("Lyon", "FR"), ("Berlin", "DE"), ("Warsaw", "PL"),
    ("Stockholm", "SE"), ("Rotterdam", "NL"), ("Vienna", "AT"),
]
# fmt: on

# (label, query) timed through search_customers; two misspell Kowalski (a wrong letter, two
# letters swapped). A reference and an exact email of one seeded customer are added at run time.
SEARCHES = [
    ("surname", "Lindqvist"),
    ("full name", "Sofia Fernandes"),
    ("misspelt surname", "Kowalsky"),
    ("transposed surname", "Kowalksi"),
    ("company words", "Granite Logistics"),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--layers", type=int, nargs="*", default=[40, 80])
    args = parser.parse_args()

    check_migrated()
    with system_scope():
        tenant, _ = Tenant.objects.get_or_create(
            slug=TENANT_SLUG, defaults={"name": "Benchmark Bank", "default_currency": "EUR"}
        )
    database = connection.settings_dict["NAME"]
    print(f"database: {connection.vendor} ({database}), tenant: {tenant.slug}")
    with tenant_context(tenant):
        started = time.perf_counter()
        target = seed(tenant, args.customers)
        layered = [
            seed_layers(tenant, levels, first_number=args.customers + 1_000 * (n + 1))
            for n, levels in enumerate(args.layers)
        ]
        print(f"seeded in {time.perf_counter() - started:.1f} s")
        analyze()

        # Latency is CPU time: on a shared machine, read it with the load beside it.
        print(f"load average (1, 5, 15 min): {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print(f"\n{'what':<48} {'rows':>5} {'median ms':>10} {'p95 ms':>9} {'queries':>8}")
        sample = Customer.objects.get(reference=REFERENCE.format(max(1, args.customers // 2)))
        searches = [*SEARCHES, ("reference", sample.reference), ("email", sample.email)]
        measure_search(searches, args.repeat)
        measure_ubo(target, args.repeat)
        for levels, top in zip(args.layers, layered, strict=True):
            measure_ubo(top, args.repeat, label=f"{levels} layers")
        print(f"\nload average (1, 5, 15 min): {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


def check_migrated():
    tables = set(connection.introspection.table_names())
    needed = {Tenant._meta.db_table, Customer._meta.db_table, CustomerRelationship._meta.db_table}
    if missing := needed - tables:
        sys.exit(
            f"Tables missing ({', '.join(sorted(missing))}): the database is not migrated.\n"
            "Run first: .venv/bin/python manage.py migrate  (with the same DATABASE_URL)"
        )


# --- data -------------------------------------------------------------------------------------


def progress(label, done, total):
    sys.stderr.write(f"\r{label}: {done:,}/{total:,} ({100 * done // max(total, 1)}%)")
    if done >= total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def seed(tenant, count):
    """Replace the tenant's customers with `count` generated ones, their direct shareholders,
    and a 4-level ownership group; return the group's target company."""
    rng = random.Random(42)
    with transaction.atomic():
        # Raw deletes: bulk rows, no history to keep; relationships first (PROTECT).
        for model in (CustomerRelationship, Customer):
            rows = model._base_manager.filter(tenant=tenant)
            rows._raw_delete(rows.db)

    customers = [make_customer(tenant, rng, number) for number in range(1, count + 1)]
    for start in range(0, count, BATCH):
        Customer.objects.bulk_create(customers[start : start + BATCH])
        progress("customers", min(start + BATCH, count), count)

    # Give each business one to three individual shareholders: background rows for the index.
    ids = dict(Customer.objects.values_list("reference", "id"))
    people = [ids[c.reference] for c in customers if c.type == Customer.Type.INDIVIDUAL]
    edges = []
    for c in customers:
        if c.type == Customer.Type.BUSINESS and people:
            holders = rng.sample(people, k=min(len(people), rng.randint(1, 3)))
            share = Decimal(100) / len(holders)
            for holder in holders:
                edges.append(shareholding(tenant, ids[c.reference], holder, share))
    for start in range(0, len(edges), BATCH):
        CustomerRelationship.objects.bulk_create(edges[start : start + BATCH])
        progress("shareholdings", min(start + BATCH, len(edges)), len(edges))

    return seed_group(tenant, first_number=count + 1)


def make_customer(tenant, rng, number):
    city, country = rng.choice(CITIES)
    common = {
        "tenant": tenant,
        "reference": REFERENCE.format(number),
        "phone": f"+4477{number:08d}",
        "address_line1": f"{rng.randint(1, 250)} {rng.choice(COMPANY_WORDS)} Street",
        "address_city": city,
        "address_country": country,
        "status": rng.choices([s.value for s in Customer.Status], weights=[10, 70, 10, 7, 3], k=1)[
            0
        ],
        "kyc_status": rng.choices(
            [s.value for s in Customer.KycStatus], weights=[15, 75, 4, 6], k=1
        )[0],
    }
    if rng.random() < 0.15:
        name = (
            f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_KINDS)} "
            f"{rng.choice(COMPANY_SUFFIXES)}"
        )
        slug = name.lower().replace(" ", "-")
        return Customer(
            type=Customer.Type.BUSINESS,
            legal_name=name,
            search_name=name.lower(),  # bulk_create skips save(), which sets it
            email=f"accounts.{number}@{slug}.example",
            **common,
        )
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    local = f"{first}.{last}".lower().replace(" ", "").replace("'", "")
    return Customer(
        type=Customer.Type.INDIVIDUAL,
        first_name=first,
        last_name=last,
        search_name=f"{first} {last}".lower(),
        email=f"{local}.{number}@mail.example",
        date_of_birth=datetime.date(
            rng.randint(1940, 2004), rng.randint(1, 12), rng.randint(1, 28)
        ),
        national_id=f"QQ{number:06d}{rng.choice('ABCD')}",
        **common,
    )


def shareholding(tenant, owned_id, owner_id, percent):
    return CustomerRelationship(
        tenant=tenant,
        customer_id=owned_id,
        related_customer_id=owner_id,
        type=CustomerRelationship.Type.SHAREHOLDER,
        ownership_percentage=percent.quantize(Decimal("0.0001")),
    )


# The timed group, four edges deep with a diamond (HOLDB reaches TARGET through both MIDs):
#   Jane 70 %, Ravi 30 % of TOPCO; TOPCO 100 % of HOLDA, 40 % of HOLDB; Mei 60 % of HOLDB;
#   Omar 100 % of HOLDC; HOLDA 50 %, HOLDB 50 % of MID1; HOLDB 30 %, HOLDC 70 % of MID2;
#   MID1 60 %, MID2 40 % of TARGET.
# fmt: off
GROUP_PEOPLE = {"jane": ("Jane", "Okafor"), "ravi": ("Ravi", "Sharma"), "mei": ("Mei", "Chen"),
                "omar": ("Omar", "Haddad")}
GROUP_COMPANIES = ["target", "mid1", "mid2", "holda", "holdb", "holdc", "topco"]
GROUP_EDGES = [
    ("jane", "topco", "70"), ("ravi", "topco", "30"), ("topco", "holda", "100"),
    ("topco", "holdb", "40"), ("mei", "holdb", "60"), ("omar", "holdc", "100"),
    ("holda", "mid1", "50"), ("holdb", "mid1", "50"), ("holdb", "mid2", "30"),
    ("holdc", "mid2", "70"), ("mid1", "target", "60"), ("mid2", "target", "40"),
]
# fmt: on


def seed_group(tenant, first_number):
    numbers = iter(range(first_number, first_number + 100))
    members = {}
    for key, (first, last) in GROUP_PEOPLE.items():
        n = next(numbers)
        members[key] = Customer(
            tenant=tenant,
            reference=REFERENCE.format(n),
            type=Customer.Type.INDIVIDUAL,
            first_name=first,
            last_name=last,
            search_name=f"{first} {last}".lower(),
            email=f"{first}.{last}.{n}@group.example".lower(),
        )
    for key in GROUP_COMPANIES:
        n = next(numbers)
        name = f"Bench {key.title()} Ltd"
        members[key] = Customer(
            tenant=tenant,
            reference=REFERENCE.format(n),
            type=Customer.Type.BUSINESS,
            legal_name=name,
            search_name=name.lower(),
            email=f"{key}.{n}@group.example",
        )
    Customer.objects.bulk_create(members.values())
    ids = dict(
        Customer.objects.filter(reference__in=[m.reference for m in members.values()]).values_list(
            "reference", "id"
        )
    )
    CustomerRelationship.objects.bulk_create(
        shareholding(
            tenant, ids[members[owned].reference], ids[members[owner].reference], Decimal(percent)
        )
        for owner, owned, percent in GROUP_EDGES
    )
    return Customer.objects.get(pk=ids[members["target"].reference])


def seed_layers(tenant, levels, first_number):
    """`levels` layers of two companies above a target, each company owning 50 % of both
    companies of the layer below, and two people each owning one company of the top layer:
    each person holds exactly 50 % of the target, through 2^(levels - 1) paths."""
    numbers = iter(range(first_number, first_number + 2 * levels + 3))

    def make(kind, name):
        n = next(numbers)
        fields = (
            {"legal_name": name}
            if kind == Customer.Type.BUSINESS
            else dict(zip(("first_name", "last_name"), name.split(), strict=True))
        )
        return Customer(
            tenant=tenant,
            reference=REFERENCE.format(n),
            type=kind,
            search_name=name.lower(),
            email=f"layer.{n}@group.example",
            **fields,
        )

    target = make(Customer.Type.BUSINESS, f"Layered {levels} Target Ltd")
    layers = [
        [make(Customer.Type.BUSINESS, f"Layer {levels}-{level}-{i} Ltd") for i in range(2)]
        for level in range(levels)
    ]
    people = [make(Customer.Type.INDIVIDUAL, f"Lee Layer{levels}x{i}") for i in range(2)]
    Customer.objects.bulk_create([target, *(c for layer in layers for c in layer), *people])
    edges = []
    for below, above in zip([[target], *layers], layers, strict=False):
        for owned in below:
            edges += [shareholding(tenant, owned.pk, owner.pk, Decimal(50)) for owner in above]
    edges += [
        shareholding(tenant, owned.pk, person.pk, Decimal(100))
        for owned, person in zip(layers[-1], people, strict=True)
    ]
    CustomerRelationship.objects.bulk_create(edges)
    return target


def analyze():
    """Fresh planner statistics after the bulk load, as autovacuum would eventually give."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"ANALYZE {Customer._meta.db_table}, {CustomerRelationship._meta.db_table}"
            )
        else:
            cursor.execute("ANALYZE")


# --- measurements -----------------------------------------------------------------------------


SEARCH_P95_TARGET_MS = 50


def plan_scans(queryset, ordering):
    """The scans of the plan PostgreSQL chooses for the first page of `queryset`."""
    if connection.vendor != "postgresql":
        return "(EXPLAIN shown on PostgreSQL only)"
    sql, params = queryset.order_by(*ordering)[:50].query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        (plan,) = cursor.fetchone()
    if isinstance(plan, str):
        plan = json.loads(plan)
    scans = Counter()
    nodes = [plan[0]["Plan"]]
    while nodes:
        node = nodes.pop()
        nodes += node.get("Plans", [])
        if node["Node Type"].endswith("Scan"):
            index = node.get("Index Name")
            scans[node["Node Type"] + (f" ({index})" if index else "")] += 1
    return ", ".join(f"{count} x {scan}" if count > 1 else scan for scan, count in scans.items())


def timed(fn, repeat):
    """Run `fn` once to warm up, then `repeat` times: (result, latencies in ms, query count)."""
    result = fn()
    latencies = []
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            result = fn()
            latencies.append((time.perf_counter() - started) * 1000)
    return result, latencies, len(queries.captured_queries)


def report(label, rows, latencies, query_count):
    ordered = sorted(latencies)
    p95 = ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]
    print(f"{label:<48} {rows:>5} {statistics.median(ordered):>10.2f} {p95:>9.2f} {query_count:>8}")
    return p95


def measure_search(searches, repeat):
    try:
        from customers import selectors
        from customers.selectors import search_customers
    except ImportError:
        print("search: customers.selectors.search_customers is not available yet; skipped")
        return
    # Ranked like the API orders a search (best match first), when the selector says how.
    ordering = getattr(selectors, "SEARCH_ORDERING", None)

    def first_page(q):
        queryset = search_customers(q=q)
        return list((queryset.order_by(*ordering) if ordering else queryset)[:50])

    for label, q in searches:
        rows, latencies, query_count = timed(lambda q=q: first_page(q), repeat)
        shown = q if len(q) <= 24 else q[:23] + "…"
        p95 = report(f"search {label} ({shown!r})", len(rows), latencies, query_count)
        verdict = "ok" if p95 < SEARCH_P95_TARGET_MS else f"OVER {SEARCH_P95_TARGET_MS} ms"
        print(f"{'':<4}{verdict}; plan: {plan_scans(search_customers(q=q), ordering)}")
        if label.endswith("surname") and "kowal" in q.lower():
            found = sum("kowalski" in c.search_name for c in rows)
            print(f"{'':<4}{found} of {len(rows)} rows are Kowalskis")


def measure_ubo(target, repeat, label="diamond"):
    owners, latencies, query_count = timed(lambda: beneficial_owners(company=target), repeat)
    report(f"beneficial_owners {label} ({target.reference})", len(owners), latencies, query_count)
    for owner in owners:
        listed = f"{len(owner.paths)} listed" + (", truncated" if owner.paths_truncated else "")
        print(
            f"{'':<4}{owner.customer.display_name}: {owner.effective_ownership} % via "
            f"{owner.path_count:,} path(s) ({listed})"
        )


if __name__ == "__main__":
    main()
