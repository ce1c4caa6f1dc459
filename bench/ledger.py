"""What a transfer costs: the ledger against PostgreSQL's own bank-transfer benchmark.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ledgerline_bench \\
    REDIS_URL=redis://127.0.0.1:6379/5 .venv/bin/python bench/ledger.py [--seconds 20]

Run `manage.py migrate` on that database first. The URL's role must be able to create a
database (for pgbench's scratch database). In one run, on one database server:

a. pgbench's built-in TPC-B-like script (`pgbench -c 4 -j 2 -T SECONDS`), whose transaction is
   itself a bank transfer (update an account, a teller and a branch, insert a history row): the
   physical reference.
b. Transfers per second through the service layer (`accounts.services.transfer`) with several
   threads, as a share of (a). Goal: at least 30 %.
c. Transfers per second through HTTP (`POST /api/v1/transfers` under gunicorn, concurrent
   clients, an `Idempotency-Key` on each request, audit on, after an untimed warm-up), as a
   share of (a). Goal: 15 %. Then the same without the key, for what honouring it costs.
   Also the SQL statements one HTTP transfer sends, listed.
d. p50/p99 of a statement page (`GET /api/v1/accounts/{ref}/transactions`) on an account with
   `--postings` postings (seeded once with INSERT ... SELECT and reused), next to one with 10.

Under a, b and c, the CPU each transaction or transfer cost, by process: the PostgreSQL server
(when it runs on this host), pgbench, the app's Python, the HTTP clients; and the rate at which
those costs would keep every core of this host busy. A ratio short of its goal on a host whose
cores are busy is a cost to remove, not a wait to shorten.

Between measurements the WAL is flushed and the tables a transfer writes are vacuumed and
analysed, so that no measurement pays for the one before it.
"""

import argparse
import functools
import os
import random
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
import warnings
from decimal import Decimal
from http.client import HTTPConnection
from pathlib import Path

from cputime import Meter, budget, own_seconds, postgres_pid, process_tree, waited_children_seconds

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Production-like: DEBUG off (no per-query bookkeeping), request log lines not printed.
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,testserver")
os.environ.setdefault("STATIC_MANIFEST", "false")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()
# WhiteNoise notes the missing collectstatic output; the bench serves no static file.
warnings.filterwarnings("ignore", message="No directory at")

from django.conf import settings  # noqa: E402
from django.db import ProgrammingError, connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from accounts import services  # noqa: E402
from accounts.models import Account  # noqa: E402
from core.context import system_scope, tenant_context  # noqa: E402
from core.models import Tenant  # noqa: E402
from core.services import issue_partner_key  # noqa: E402
from customers.models import Customer  # noqa: E402

TENANT = "bench-ledger"
ACCOUNTS = 16  # transfers pick two of these at random: some contention, as in a real bank
OPENING_DEPOSIT = Decimal("1000000.00")
AMOUNT = Decimal("1.00")


def ratio(rate, reference):
    return f"{rate:8,.0f} transfers/s = {100 * rate / reference:5.1f} % of TPC-B"


# --- setup -----------------------------------------------------------------------------------


def bench_tenant():
    with system_scope():
        tenant, _ = Tenant.objects.get_or_create(slug=TENANT, defaults={"name": "Bench ledger"})
    return tenant


def bench_accounts(tenant, count=ACCOUNTS, prefix="BENCH"):
    """`count` funded current accounts of one active, verified customer, made once."""
    with tenant_context(tenant):
        customer, _ = Customer.objects.get_or_create(
            tenant=tenant,
            reference=f"{prefix}-CUSTOMER",
            defaults={
                "type": "individual",
                "first_name": "Bench",
                "last_name": prefix.title(),
                "status": "active",
                "kyc_status": "verified",
            },
        )
        accounts = list(Account.objects.filter(customer=customer).order_by("pk"))
        while len(accounts) < count:
            account = services.open_account(
                customer=customer, product="current", currency="EUR", by="system:bench"
            )
            services.deposit(account=account, amount=OPENING_DEPOSIT, by="system:bench")
            accounts.append(account)
    return accounts[:count]


# --- a. pgbench ------------------------------------------------------------------------------


@functools.cache
def database_server():
    """The CPU reader (cputime) of the PostgreSQL server, or None if it runs on another host."""
    return process_tree(postgres_pid())


def pgbench(seconds, clients):
    """TPC-B-like transactions per second on a scratch database of the same server."""
    binary = shutil.which("pgbench")
    if binary is None:
        raise SystemExit(
            "pgbench is missing: it comes with the PostgreSQL server (apt-get install postgresql)"
        )
    db = settings.DATABASES["default"]
    env = {**os.environ, "PGPASSWORD": db.get("PASSWORD") or ""}
    common = ["-h", db["HOST"] or "127.0.0.1", "-p", str(db["PORT"] or 5432), "-U", db["USER"]]
    scratch = f"{db['NAME']}_pgbench"
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{scratch}"')
        cursor.execute(f'CREATE DATABASE "{scratch}"')
    try:
        subprocess.run(  # noqa: S603 (our own arguments)
            [binary, *common, "-i", "-q", "-s", "10", scratch],
            env=env,
            check=True,
            capture_output=True,
        )
        meter = Meter({"PostgreSQL": database_server(), "pgbench": waited_children_seconds})
        meter.start()
        run = subprocess.run(  # noqa: S603 (our own arguments)
            [binary, *common, "-c", str(clients), "-j", "2", "-T", str(seconds), scratch],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        meter.stop(int(re.search(r"actually processed: (\d+)", run.stdout).group(1)))
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{scratch}"')
        settle(WRITTEN_TABLES)  # and what earlier runs (or bench/audit.py's million) left
    tps = float(re.search(r"tps = ([\d.]+)", run.stdout).group(1))
    print(f"a. pgbench TPC-B-like, -c {clients} -j 2 -T {seconds}: {tps:8,.0f} transactions/s")
    print(f"   {budget(meter.spent)}")
    return tps


# Tables a transfer writes: vacuumed and analysed between measurements (see settle()).
WRITTEN_TABLES = (
    "accounts_journal",
    "accounts_posting",
    "accounts_accountbalance",
    "audit_auditevent",
    "audit_auditeventlink",
    "audit_auditchainhead",
    "core_idempotencyrecord",
)


def settle(tables=()):
    """Do now what the database would otherwise do during the next measurement: flush the WAL
    of what was just written (if the role may: a superuser, or pg_checkpoint on PostgreSQL
    15+) and vacuum and analyse the tables it grew, before autovacuum picks them."""
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"VACUUM (ANALYZE) {table}")  # a non-owner gets a warning, no error
        try:
            cursor.execute("CHECKPOINT")
        except ProgrammingError:
            print("   (no CHECKPOINT between measurements: the role lacks pg_checkpoint)")


# --- b. the service layer --------------------------------------------------------------------


def run_threads(seconds, threads, step, meter=None):
    """Call `step(rng)` in `threads` threads for `seconds`; answer the calls per second. A
    `meter` (cputime.Meter) measures the CPU they cost."""
    counts = [0] * threads
    stop = threading.Event()

    def work(index):
        rng = random.Random(index)
        try:
            while not stop.is_set():
                step(rng)
                counts[index] += 1
        finally:
            connection.close()

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    if meter is not None:
        meter.start()
    start = time.perf_counter()
    for worker in workers:
        worker.start()
    time.sleep(seconds)
    stop.set()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - start
    if meter is not None:
        meter.stop(sum(counts))
    return sum(counts) / elapsed


def service_transfers(tenant, accounts, seconds, threads):
    def step(rng):
        source, target = rng.sample(accounts, 2)
        with tenant_context(tenant):
            services.transfer(
                from_account=source, to_account=target, amount=AMOUNT, by="system:bench"
            )

    meter = Meter({"PostgreSQL": database_server(), "Python": own_seconds})
    rate = run_threads(seconds, threads, step, meter)
    return rate, meter.spent


# --- c. HTTP under gunicorn ------------------------------------------------------------------


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_gunicorn(workers, threads):
    port = free_port()
    env = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "STATIC_MANIFEST": "false",
        "API_RATE_LIMIT": str(10**9),
        "LOG_LEVEL": "WARNING",
    }
    gunicorn = Path(sys.executable).with_name("gunicorn")
    server = subprocess.Popen(  # noqa: S603 (our own interpreter's gunicorn and arguments)
        [
            str(gunicorn),
            "config.wsgi:application",
            f"--bind=127.0.0.1:{port}",
            f"--workers={workers}",
            f"--threads={threads}",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _attempt in range(100):
        try:
            probe = HTTPConnection("127.0.0.1", port, timeout=1)
            probe.request("GET", "/health/live")
            if probe.getresponse().status == 200:
                return server, port
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("gunicorn did not answer /health/live within 10 s")


WARM_UP_SECONDS = 5


def http_transfers(raw_key, accounts, seconds, clients, workers, threads, idempotency_key=True):
    """Transfers per second and {process: CPU ms each}; `idempotency_key=False` sends none, to
    show what honouring the key costs."""
    server, port = start_gunicorn(workers, threads)
    connections = threading.local()
    failures = []

    def step(rng):
        if not hasattr(connections, "http"):
            connections.http = HTTPConnection("127.0.0.1", port, timeout=30)
        source, target = rng.sample(accounts, 2)
        body = (
            f'{{"from_account": "{source.reference}", "to_account": "{target.reference}", '
            f'"amount": "{AMOUNT}", "description": "bench"}}'
        )
        headers = {"Authorization": f"Bearer {raw_key}", "Content-Type": "application/json"}
        if idempotency_key:
            headers["Idempotency-Key"] = str(uuid.uuid4())
        connections.http.request("POST", "/api/v1/transfers", body=body, headers=headers)
        response = connections.http.getresponse()
        response.read()
        if response.status != 201:
            failures.append(response.status)
        if response.getheader("Connection", "").lower() == "close":
            connections.http.close()
            del connections.http

    try:
        # Untimed: every worker boots (the first answer to /health/live comes from one) and
        # warms up (imports, connections, statements prepared) before the clock starts.
        run_threads(WARM_UP_SECONDS, clients, step)
        meter = Meter(
            {
                "PostgreSQL": database_server(),
                "gunicorn": process_tree(server.pid),
                "clients": own_seconds,
            }
        )
        rate = run_threads(seconds, clients, step, meter)
    finally:
        server.terminate()
        server.wait()
    if failures:
        print(f"   ! {len(failures)} requests failed: {sorted(set(failures))}")
    return rate, meter.spent


def transfer_statements(raw_key, accounts):
    """The SQL one HTTP transfer sends (in-process, same code path as under gunicorn)."""
    client = Client()
    headers = {"Authorization": f"Bearer {raw_key}", "Idempotency-Key": str(uuid.uuid4())}
    body = {
        "from_account": accounts[0].reference,
        "to_account": accounts[1].reference,
        "amount": str(AMOUNT),
        "description": "profile",
    }
    with CaptureQueriesContext(connection) as captured:
        response = client.post(
            "/api/v1/transfers", body, content_type="application/json", headers=headers
        )
    assert response.status_code == 201, response.content
    print(f"   one HTTP transfer: {len(captured.captured_queries)} SQL statements")
    for query in captured.captured_queries:
        print(f"     {query['time']:>6}s  {' '.join(query['sql'].split())[:110]}")


# --- d. statement pages ----------------------------------------------------------------------

# One journal per posting pair, the big account credited 1.00 and the settlement account
# debited, inserted in one statement; balance_after runs with the journal's order.
SEED_SQL = """
WITH journal AS (
    INSERT INTO accounts_journal (tenant_id, created_at, public_id, kind, description, actor,
        channel, request_id, idempotency_key, value_date)
    SELECT %(tenant)s, now() - (%(count)s - g) * interval '1 second', gen_random_uuid(),
        'deposit', 'bench seed', 'system:bench', 'command', '', '', current_date
    FROM generate_series(1, %(count)s) AS g
    RETURNING id, created_at
), numbered AS (
    SELECT id, created_at, row_number() OVER (ORDER BY id) AS n FROM journal
)
INSERT INTO accounts_posting (tenant_id, public_id, journal_id, account_id, amount,
    balance_after, kind, description, value_date, posted_at, external_reference)
SELECT %(tenant)s, gen_random_uuid(), numbered.id, side.account_id, side.amount,
    side.opening + side.amount * numbered.n, 'deposit', 'bench seed', current_date,
    numbered.created_at, ''
FROM numbered CROSS JOIN (VALUES
    (%(account)s, 1.00, %(account_balance)s::numeric),
    (%(settlement)s, -1.00, %(settlement_balance)s::numeric)
) AS side (account_id, amount, opening)
"""
BALANCE_SQL = "UPDATE accounts_accountbalance SET balance = balance + %s WHERE account_id = %s"


def seed_postings(tenant, account, settlement, count):
    """Bring `account` to `count` postings (once; later runs reuse them)."""
    with tenant_context(tenant):
        missing = count - account.postings.count()
        if missing <= 0:
            return
        print(f"   seeding {missing:,} postings on {account.reference} (once) ...", flush=True)
        balances = {
            row.account_id: row.balance
            for row in type(account.ledger_balance).objects.filter(
                account__in=[account, settlement]
            )
        }
        with connection.cursor() as cursor:
            cursor.execute(
                SEED_SQL,
                {
                    "tenant": tenant.pk,
                    "count": missing,
                    "account": account.pk,
                    "settlement": settlement.pk,
                    "account_balance": balances[account.pk],
                    "settlement_balance": balances[settlement.pk],
                },
            )
            cursor.execute(BALANCE_SQL, [missing, account.pk])
            cursor.execute(BALANCE_SQL, [-missing, settlement.pk])
            cursor.execute("ANALYZE accounts_posting")


def statement_timings(raw_key, account, repeat):
    """p50/p99 (ms) of the first page and, when there is one, of the 21st."""
    client = Client()
    headers = {"Authorization": f"Bearer {raw_key}"}
    url = f"/api/v1/accounts/{account.reference}/transactions?limit=50"
    pages = {"first page": url}
    page = url
    for _page in range(20):
        cursor = client.get(page, headers=headers).json()["next_cursor"]
        page = f"{url}&cursor={cursor}"
        if cursor is None:
            break
    else:
        pages["page 21"] = page
    timings = {}
    for label, page in pages.items():
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            response = client.get(page, headers=headers)
            times.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, response.content
        times.sort()
        timings[label] = (
            statistics.median(times),
            times[min(len(times) - 1, int(len(times) * 0.99))],
        )
    return timings


def statements(tenant, raw_key, postings, repeat):
    from accounts.internal import internal_account

    big, small = bench_accounts(tenant, count=2, prefix="STATEMENT")
    with tenant_context(tenant):
        settlement = internal_account(code="settlement", currency="EUR")
    seed_postings(tenant, big, settlement, postings)
    seed_postings(tenant, small, settlement, 10)
    print(f"d. Statement page of 50 (p50 / p99 over {repeat} requests)")
    for account in (small, big):
        with tenant_context(tenant):
            count = account.postings.count()
        for label, (p50, p99) in statement_timings(raw_key, account, repeat).items():
            print(f"   {count:>9,} postings, {label:10}  p50 {p50:6.2f} ms   p99 {p99:6.2f} ms")


# --- main ------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=20, help="per throughput measurement")
    parser.add_argument("--threads", type=int, default=4, help="service-layer threads")
    parser.add_argument("--clients", type=int, default=8, help="concurrent HTTP clients")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--worker-threads", type=int, default=2, help="threads per worker")
    parser.add_argument("--postings", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=200, help="statement requests per case")
    options = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("bench/ledger.py compares with pgbench: set DATABASE_URL to PostgreSQL.")
    settings.API_RATE_LIMIT = 10**9
    tenant = bench_tenant()
    accounts = bench_accounts(tenant)
    with system_scope():
        _key, raw_key = issue_partner_key(tenant=tenant, name="bench", scopes=["*"])

    tpc_b = pgbench(options.seconds, clients=4)
    rate, cpu = service_transfers(tenant, accounts, options.seconds, options.threads)
    print(f"b. service layer, {options.threads} threads: {ratio(rate, tpc_b)} (goal 30 %)")
    print(f"   {budget(cpu)}")
    if "Python" in cpu:  # the GIL: one process runs Python on one core at a time
        print(f"   one process's Python alone allows {1000 / cpu['Python']:,.0f}/s")
    settle(WRITTEN_TABLES)
    layout = (options.seconds, options.clients, options.workers, options.worker_threads)
    rate, cpu = http_transfers(raw_key, accounts, *layout)
    print(
        f"c. HTTP, gunicorn {options.workers} workers x {options.worker_threads} threads, "
        f"{options.clients} clients: {ratio(rate, tpc_b)} (goal 15 %)"
    )
    print(f"   {budget(cpu)}")
    settle(WRITTEN_TABLES)
    rate, cpu = http_transfers(raw_key, accounts, *layout, idempotency_key=False)
    print(f"   the same without Idempotency-Key: {ratio(rate, tpc_b)}")
    print(f"   {budget(cpu)}")
    transfer_statements(raw_key, accounts)
    statements(tenant, raw_key, options.postings, options.repeat)


if __name__ == "__main__":
    main()
