"""Reads of accounts and the ledger that are more than one line, each a fixed number of
queries whatever the page size. Another tenant's object is NotFound, like a missing one."""

import uuid
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.utils import timezone

from accounts.models import Account, Hold, Journal, Posting
from core.db.prepared import PreparedQuery
from core.errors import NotFound
from core.history import covering, version_as_of

# Keyset order of statements, served by the `posting_statement` index.
STATEMENT_ORDERING = ("-posted_at", "-id")


def _live_account(queryset, reference):
    # PostgreSQL cannot compare text holding a NUL (a 500), and no reference holds one.
    account = None
    if "\x00" not in reference:
        account = queryset.with_balances().select_related("customer").filter(reference=reference)
        account = account.first()
    if account is None:
        raise NotFound("No account with this reference.")
    return account


def get_account(reference):
    """A live account, customer or internal (the bank's own ledger accounts, for staff), with
    its balance row and customer joined."""
    return _live_account(Account.objects, reference)


def get_customer_account(reference):
    """A live customer account: the bank's internal ledger accounts (settlement, income, ...)
    are no partner's, and are NotFound like a missing one."""
    return _live_account(Account.objects.customer_accounts(), reference)


# A transfer's two sides in one query, compiled once (core/db/prepared.py).
_TWO_BY_REFERENCE = PreparedQuery(
    lambda first, second: Account.objects.customer_accounts().filter(reference__in=[first, second])
)


def customer_accounts_by_reference(*references):
    """The live customer accounts among one or two `references` (unknown ones are left out)."""
    if len(references) > 2:
        raise TypeError("Pass one or two references (a transfer's sides).")
    if not references:
        return []
    first, second = references[0], references[-1]
    return _TWO_BY_REFERENCE(first=first, second=second)


def customer_account_as_of(reference, when):
    """The customer account `reference` as it was at `when` (closed or deleted since, or not),
    with its balance and available balance then; NotFound if it did not exist yet."""
    current = None
    if "\x00" not in reference:
        current = Account.all_objects.customer_accounts().filter(reference=reference).first()
    account = version_as_of(Account, pk=current.pk, when=when) if current else None
    if account is None:
        raise NotFound(f"No account {reference} at {when.isoformat()}.")
    # Postings and holds are never rewritten: the last balance_after before `when` is the
    # balance then, and the holds placed by then and neither released nor expired by then
    # were the ones withholding money.
    when = covering(when)
    balance = (
        Posting.objects.filter(account_id=current.pk, posted_at__lte=when)
        .order_by(*STATEMENT_ORDERING)
        .values_list("balance_after", flat=True)
        .first()
    ) or Decimal(0)
    held = (
        Hold.objects.filter(account_id=current.pk, created_at__lte=when)
        .exclude(released_at__lte=when)
        .active(when)
        .total()
    )
    return account, balance, balance - held + account.overdraft_limit


def accounts(customer=None, status=None, currency=None):
    """Customer accounts, newest first, balances joined."""
    queryset = Account.objects.customer_accounts().with_balances().select_related("customer")
    if customer is not None:
        queryset = queryset.filter(customer=customer)
    if status:
        queryset = queryset.filter(status=status)
    if currency:
        queryset = queryset.filter(currency=currency)
    return queryset.order_by("-created_at", "-id")


def _start_of(day):
    return timezone.make_aware(datetime.combine(day, time.min))


def statement(account, *, since=None, until=None):
    """The account's postings newest first. `since`/`until` are datetimes or dates (a date
    `until` includes that whole day); both bound `posted_at`, so the statement index serves
    them."""
    # The journal's public id is on every statement row: joined, not a query per row.
    queryset = (
        Posting.objects.filter(account=account)
        .select_related("journal")
        .order_by(*STATEMENT_ORDERING)
    )
    if since is not None:
        if not isinstance(since, datetime):
            since = _start_of(since)
        queryset = queryset.filter(posted_at__gte=since)
    if until is not None:
        if isinstance(until, datetime):
            queryset = queryset.filter(posted_at__lte=until)
        elif isinstance(until, date):
            queryset = queryset.filter(posted_at__lt=_start_of(until + timedelta(days=1)))
    return queryset


def holds_of(account, status=None):
    """The account's holds, newest first; `status`: active, released or expired."""
    now = timezone.now()
    queryset = Hold.objects.filter(account=account).order_by("-created_at", "-id")
    if status == Hold.Status.ACTIVE:
        queryset = queryset.active(now)
    elif status == Hold.Status.EXPIRED:
        queryset = queryset.expired(now)
    elif status == Hold.Status.RELEASED:
        queryset = queryset.filter(released_at__isnull=False)
    return queryset


def _uuid(value):
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def get_hold(account, public_id):
    key = _uuid(public_id)
    found = Hold.objects.filter(account=account, public_id=key).first() if key else None
    if found is None:
        raise NotFound("No hold with this id.")
    return found


def get_journal(public_id):
    """A journal with its postings (and their accounts) loaded."""
    key = _uuid(public_id)
    journal = (
        Journal.objects.filter(public_id=key).prefetch_related("postings__account").first()
        if key
        else None
    )
    if journal is None:
        raise NotFound("No journal with this id.")
    return journal
