"""Prove the ledger: every account's balance is the sum of its postings, and every journal sums
to zero in each currency. Exits non-zero naming each mismatch (docs/operations.md,
"Reconciling the ledger")."""

from decimal import Decimal

from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.models import Count, Max, Min, Sum
from django.db.models.functions import Round

from accounts import currencies
from accounts.models import AccountBalance, Journal, Posting
from core.context import tenant_context
from core.management.base import SystemCommand
from core.management.progress import Progress
from core.models import Tenant

# Rows of the driving table (accounts, journals) per aggregate query: each batch is one
# GROUP BY over an id range that an index serves, so memory stays flat on any ledger.
BATCH = 5000
ZERO = Decimal(0)


def _id_batches(queryset, field):
    bounds = queryset.aggregate(low=Min(field), high=Max(field), count=Count(field))
    if bounds["low"] is None:
        return 0, []
    ranges = [
        (low, min(low + BATCH - 1, bounds["high"]))
        for low in range(bounds["low"], bounds["high"] + 1, BATCH)
    ]
    return bounds["count"], ranges


def balance_mismatches(progress_stream=None, label=""):
    """[(reference, currency, balance, sum of postings)] of the current tenant's accounts."""
    total, ranges = _id_batches(AccountBalance.objects.all(), "pk")
    progress = Progress(f"{label} balances", total, progress_stream) if progress_stream else None
    mismatches, done = [], 0
    for low, high in ranges:
        balances = AccountBalance.objects.filter(pk__gte=low, pk__lte=high).values_list(
            "account_id", "balance", "account__reference", "account__currency"
        )
        sums = dict(
            Posting.objects.filter(account_id__gte=low, account_id__lte=high)
            .order_by()
            .values("account_id")
            .annotate(total=Sum("amount"))
            .values_list("account_id", "total")
        )
        for account_id, balance, reference, currency in balances:
            posted = sums.pop(account_id, ZERO)
            if balance != posted:
                mismatches.append((reference, currency, balance, posted))
            done += 1
        # Postings on an account with no balance row.
        mismatches.extend(
            (f"account id {account_id}", "", None, posted) for account_id, posted in sums.items()
        )
        if progress:
            progress(done)
    if progress:
        progress.close()
    return mismatches


def journal_mismatches(progress_stream=None, label=""):
    """[(journal public id, currency or None, sum)] of the current tenant's journals that do
    not sum to zero per currency (currency None: a journal without postings)."""
    total, ranges = _id_batches(Journal.objects.all(), "id")
    progress = Progress(f"{label} journals", total, progress_stream) if progress_stream else None
    mismatches, done = [], 0
    for low, high in ranges:
        unbalanced = list(
            Posting.objects.filter(journal_id__gte=low, journal_id__lte=high)
            .order_by()
            .values("journal_id", "account__currency")
            # Rounded to the column's 4 places in SQL: SQLite sums decimals as floats, so
            # 0.10 + 0.20 - 0.30 would not be zero there.
            .annotate(total=Round(Sum("amount"), 4))
            .exclude(total=0)
            .values_list("journal_id", "account__currency", "total")
        )
        if unbalanced:  # public ids only for what is reported
            public_ids = dict(
                Journal.objects.filter(pk__in={row[0] for row in unbalanced}).values_list(
                    "pk", "public_id"
                )
            )
            mismatches.extend((public_ids[pk], code, total) for pk, code, total in unbalanced)
        batch = Journal.objects.filter(id__gte=low, id__lte=high)
        empty = batch.filter(postings__isnull=True).values_list("public_id", flat=True)
        mismatches.extend((public_id, None, ZERO) for public_id in empty)
        done += batch.count()
        if progress:
            progress(done)
    if progress:
        progress.close()
    return mismatches


def _money(amount, currency):
    if amount is None:
        return "none"
    return currencies.format_amount(amount, currency) if currency else f"{amount:f}"


class Command(SystemCommand):
    help = (
        "Prove that every account's balance equals the sum of its postings and that every "
        "journal sums to zero per currency; exit non-zero naming each mismatch."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tenant", help="slug of the one tenant to reconcile")
        parser.add_argument("--no-progress", action="store_true", help="no progress line on stderr")

    def handle(self, *args, tenant=None, no_progress=False, **options):
        tenants = Tenant.objects.order_by("slug")
        if tenant is not None:
            tenants = tenants.filter(slug=tenant)
            if not tenants.exists():
                raise CommandError(f"No tenant with slug {tenant!r}.")
        stream = None if no_progress else self.stderr._out
        failures = []
        for bank in tenants:
            failures += self._reconcile(bank, stream)
        if failures:
            raise CommandError(
                f"Ledger reconciliation failed with {len(failures)} mismatch(es):\n"
                + "\n".join(failures)
            )

    def _reconcile(self, tenant, stream):
        snapshot = connection.vendor == "postgresql" and not connection.in_atomic_block
        with tenant_context(tenant), transaction.atomic():
            if snapshot:
                # One snapshot for every query: movements committing meanwhile are either
                # wholly seen or not at all.
                with connection.cursor() as cursor:
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            balances = balance_mismatches(stream, tenant.slug)
            journals = journal_mismatches(stream, tenant.slug)
        failures = [
            f"{tenant.slug}: account {reference} has a balance of {_money(balance, currency)} "
            f"but its postings sum to {_money(posted, currency)}"
            for reference, currency, balance, posted in balances
        ] + [
            f"{tenant.slug}: journal {public_id} has no postings"
            if currency is None
            else f"{tenant.slug}: journal {public_id} sums to {_money(total, currency)} "
            f"{currency}, not zero"
            for public_id, currency, total in journals
        ]
        self.stdout.write(
            f"{tenant.slug}: "
            + (
                f"{len(failures)} mismatch(es)."
                if failures
                else "balanced: every account equals its postings, every journal sums to zero."
            )
        )
        return failures
