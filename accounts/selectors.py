"""Reads of accounts and the ledger that are more than one line, each a fixed number of
queries whatever the page size. Another tenant's object is NotFound, like a missing one."""

import uuid
from datetime import date, datetime, time, timedelta

from django.utils import timezone

from accounts.models import Account, Hold, Journal, Posting
from core.errors import NotFound

# Keyset order of statements, served by the `posting_statement` index.
STATEMENT_ORDERING = ("-posted_at", "-id")


def get_account(reference):
    """A live account (customer or internal) with its balance row and customer joined."""
    account = (
        Account.objects.with_balances()
        .select_related("customer")
        .filter(reference=reference)
        .first()
    )
    if account is None:
        raise NotFound("No account with this reference.")
    return account


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
    queryset = Posting.objects.filter(account=account).order_by(*STATEMENT_ORDERING)
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
