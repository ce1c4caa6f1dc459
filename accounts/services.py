"""Every write of accounts and the ledger: the only code that moves money.

Each money service is one transaction that writes one journal whose postings sum to zero per
currency, updates the balance rows of the accounts it touches (locked with `select_for_update`
in account-id order, so concurrent movements can neither deadlock on them nor lose an update),
and emits one audit event. A transaction PostgreSQL aborts for a deadlock or a serialization
failure is rerun (`core.db.retry.retry_transient`) when the service owns it.

A transfer costs, besides BEGIN and COMMIT, three round trips: one SELECT ... FOR NO KEY UPDATE
of both balance rows joined to their accounts (the account rows are locked too, so a concurrent
freeze is either seen or waits for the transfer), one statement writing the journal, both
postings and both balances (data-modifying CTEs on PostgreSQL; three statements elsewhere), and
the audit event with its links; the audit chain is sealed later, off the caller's thread
(`audit/sealer.py`). On PostgreSQL the first two are constant SQL, built once: compiling them
through the ORM on every transfer cost more Python time than the database took to run them.
Internal account ids are remembered per process (`accounts.internal`), so a deposit looks
nothing up first. An idempotency key already taken is
found by the journal INSERT (ON CONFLICT DO NOTHING), which waits for a concurrent transaction
holding the same key; the first journal is then returned and nothing is written.
"""

import functools
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Min, Sum
from django.utils import timezone

from accounts import currencies, internal, rules
from accounts.blockers import closure_blockers
from accounts.models import (
    Account,
    AccountBalance,
    Hold,
    InternalCode,
    Journal,
    JournalKind,
    Posting,
)
from accounts.numbers import take_account_numbers
from core.context import acting_as, actor_label, get_current_tenant, get_request_info
from core.db.inserts import (
    db_values,
    insert_fields,
    insert_unless_conflict,
    insert_unless_conflict_sql,
    typed_placeholder,
)
from core.db.retry import retry_transient
from core.errors import Conflict, IdempotencyKeyReused, NotFound, RuleViolation
from core.references import next_reference
from core.signals import emit_audit_event
from customers.models import Customer

ZERO = Decimal(0)
Status = Account.Status


@dataclass(frozen=True)
class Line:
    """One posting of `post_journal`: `amount` signed, credits positive."""

    account: Account
    amount: Decimal
    description: str = ""


# --- locking ----------------------------------------------------------------------------------

_LOCKED_COLUMNS = (
    "account_id",
    "balance",
    "held",
    "next_hold_expiry",
    "account__status",
    "account__currency",
    "account__overdraft_limit",
    "account__internal_code",
    "account__reference",
    "account__deleted_at",
)


@dataclass
class _Locked:
    """An account as read while locking its balance row: what the rules need, nothing more."""

    account_id: int
    balance: Decimal
    held: Decimal
    next_hold_expiry: datetime | None
    status: str
    currency: str
    overdraft_limit: Decimal
    internal_code: str
    reference: str
    deleted_at: datetime | None
    holds_summed: bool = False

    def held_now(self, now):
        """The active holds: `held`, unless one has expired since it was summed; then they
        are summed again (and the sum is written back with the balance)."""
        if self.next_hold_expiry is not None and self.next_hold_expiry <= now:
            self.sum_holds(now)
        return self.held

    def sum_holds(self, now):
        totals = (
            Hold.objects.filter(account_id=self.account_id)
            .active(now)
            .aggregate(total=Sum("amount"), next_expiry=Min("expires_at"))
        )
        self.held = totals["total"] or ZERO
        self.next_hold_expiry = totals["next_expiry"]
        self.holds_summed = True

    def available(self, now):
        return self.balance - self.held_now(now) + self.overdraft_limit


# PostgreSQL: the lock as constant SQL (building the ORM query took longer than running it).
_LOCK_SQL = """
SELECT b.account_id, b.balance, b.held, b.next_hold_expiry, a.status, a.currency,
    a.overdraft_limit, a.internal_code, a.reference, a.deleted_at
FROM accounts_accountbalance AS b JOIN accounts_account AS a ON a.id = b.account_id
WHERE b.account_id = ANY(%s) AND b.tenant_id = %s
ORDER BY b.account_id
FOR NO KEY UPDATE
"""


def _lock(account_ids):
    """Lock the balance rows (and account rows) of `account_ids` in id order, in one query;
    {account id: _Locked}. An id the tenant cannot see is missing from the answer."""
    tenant = get_current_tenant()
    if tenant is None:  # system scope: the rows would be written for no tenant anyway
        raise ValidationError(
            {"tenant": "The ledger acts for one tenant: use tenant_context(), not system scope."}
        )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_LOCK_SQL, [list(account_ids), tenant.pk])
            rows = cursor.fetchall()
    else:
        rows = (
            AccountBalance.objects.select_for_update(no_key=True)
            .filter(account_id__in=account_ids)
            .order_by("account_id")
            .values_list(*_LOCKED_COLUMNS)
        )
    return {row[0]: _Locked(*row) for row in rows}


def _lock_one(account):
    locked = _lock([account.pk]).get(account.pk)
    if locked is None:
        raise NotFound("No account with this reference.")
    return locked


def _save_balances(rows, now):
    """One UPDATE for every balance row in `rows`."""
    objs = [
        AccountBalance(
            account_id=row.account_id,
            tenant=get_current_tenant(),
            balance=row.balance,
            held=row.held,
            next_hold_expiry=row.next_hold_expiry,
            updated_at=now,
        )
        for row in rows
    ]
    fields = ["balance", "updated_at"]
    if any(row.holds_summed for row in rows):
        fields += ["held", "next_hold_expiry"]
    AccountBalance.objects.bulk_update(objs, fields)


# --- journals ---------------------------------------------------------------------------------


@dataclass
class _Entry:
    account_id: int
    amount: Decimal
    description: str = ""
    internal: tuple | None = None  # (code, currency) of an internal account found by id


@dataclass
class _Movement:
    kind: str
    entries: list
    description: str = ""
    value_date: object = None
    external_reference: str = ""
    idempotency_key: str = ""
    reversal_of_id: int | None = None
    by: object = None


_quote = connection.ops.quote_name
_JOURNAL_FIELDS = insert_fields(Journal)
_POSTING_FIELDS = [f for f in insert_fields(Posting) if f.name != "journal"]
# A concurrent transaction inserting the same key makes the journal's INSERT wait until it ends:
# then its journal exists (it committed: nothing is inserted here) or this one is (it rolled back).
_JOURNAL_KEY = {
    "conflict_fields": ("tenant", "idempotency_key"),
    "condition": "NOT (idempotency_key = '')",
}


@functools.cache
def _write_sql(postings, rows):
    """The statement of `_write_postgresql` for `postings` postings and `rows` balance rows."""
    posting_columns = ", ".join(_quote(f.column) for f in _POSTING_FIELDS)
    posting_row = f"({', '.join(typed_placeholder(f) for f in _POSTING_FIELDS)})"
    balance = AccountBalance._meta
    balance_fields = [balance.get_field(name) for name in ("account", "balance", "held")]
    balance_row = (
        f"({', '.join(typed_placeholder(f) for f in balance_fields)}, "
        f"{typed_placeholder(balance.get_field('next_hold_expiry'))})"
    )
    journal_sql = insert_unless_conflict_sql(Journal, **_JOURNAL_KEY, typed=True)
    return (
        f"WITH j AS ({journal_sql}), "  # noqa: S608 (identifiers from metadata)
        f"p AS (INSERT INTO {_quote(Posting._meta.db_table)} ({_quote('journal_id')}, "
        f"{posting_columns}) SELECT j.id, v.* FROM j, "
        f"(VALUES {', '.join([posting_row] * postings)}) AS v RETURNING id, public_id), "
        f"b AS (UPDATE {_quote(balance.db_table)} AS t SET balance = v.balance, held = v.held, "
        "next_hold_expiry = v.next_hold_expiry, updated_at = %s "
        f"FROM (VALUES {', '.join([balance_row] * rows)}) "
        "AS v (account_id, balance, held, next_hold_expiry) "
        "WHERE t.account_id = v.account_id AND t.tenant_id = %s AND EXISTS (SELECT 1 FROM j)) "
        "SELECT j.id, p.id, p.public_id FROM j, p"
    )


def _write_postgresql(journal, postings, rows, now):
    """Journal, postings and balances in ONE statement (data-modifying CTEs); False, with
    nothing written, when the journal's idempotency key is taken."""
    sql = _write_sql(len(postings), len(rows))
    params = db_values(journal, _JOURNAL_FIELDS)
    for posting in postings:
        params += db_values(posting, _POSTING_FIELDS)
    params.append(now)  # updated_at
    for row in rows:
        params += [row.account_id, row.balance, row.held, row.next_hold_expiry]
    params.append(journal.tenant_id)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        written = cursor.fetchall()
    if not written:
        return False
    ids = {public_id: posting_id for _, posting_id, public_id in written}
    journal.pk = written[0][0]
    for posting in postings:
        posting.pk = ids[posting.public_id]
    return True


def _write_other(journal, postings, rows, now):
    """`_write_postgresql` in three statements, for databases without data-modifying CTEs."""
    if not insert_unless_conflict(journal, **_JOURNAL_KEY):
        return False
    Posting.objects.bulk_create(postings)
    _save_balances(rows, now)
    return True


def _write(journal, postings, rows, now):
    journal.assign_tenant()
    write = _write_postgresql if connection.vendor == "postgresql" else _write_other
    if not write(journal, postings, rows, now):
        return False
    for obj in (journal, *postings):
        obj._state.adding = False
        obj._state.db = connection.alias
    for posting in postings:
        posting.journal = journal  # its journal_id, now that the journal has one
    return True


def _replay(movement):
    """The journal already posted under the movement's idempotency key, if it is the same
    movement (IdempotencyKeyReused if the key was used for another), marked `replayed`. The
    same movement: its kind, its money, its description and external reference, and its value
    date unless the retry leaves it out (then it takes the first one's)."""
    journal = Journal.objects.get(idempotency_key=movement.idempotency_key)
    postings = list(journal.postings.order_by("id"))
    posted = sorted((p.account_id, p.amount) for p in postings)
    wanted = sorted((e.account_id, e.amount) for e in movement.entries)
    said = (journal.description, postings[0].external_reference)
    if (
        journal.kind != movement.kind
        or posted != wanted
        or said != (movement.description, movement.external_reference)
        or movement.value_date not in (None, journal.value_date)
    ):
        raise IdempotencyKeyReused(
            "This idempotency key was already used for another money movement. Use a new key "
            "for a new movement."
        )
    journal.posting_list = postings
    journal.replayed = True
    return journal


def _lock_entries(entries):
    """Lock every account of `entries`; an internal account remembered under a stale id (a
    database restored, a transaction rolled back) is looked up again."""
    rows = _lock(sorted({e.account_id for e in entries}))
    stale = [
        e
        for e in entries
        if e.internal
        and (
            (row := rows.get(e.account_id)) is None
            or (row.internal_code, row.currency) != e.internal
        )
    ]
    if stale:
        tenant_id = get_current_tenant().pk
        for entry in stale:
            code, currency = entry.internal
            internal.forget(tenant_id=tenant_id, code=code, currency=currency)
            entry.account_id = internal.internal_account_id(
                tenant_id=tenant_id, code=code, currency=currency
            )
        rows = _lock(sorted({e.account_id for e in entries}))
    if len(rows) != len({e.account_id for e in entries}):
        raise NotFound("No account with this reference.")
    return rows


def _check(movement, rows, now):
    for row in rows.values():
        rules.check_can_post(row)
    rules.check_balanced(movement.entries, lambda e: rows[e.account_id].currency)
    for row in rows.values():
        net = sum((e.amount for e in movement.entries if e.account_id == row.account_id), ZERO)
        if net < 0:
            rules.check_available(row, available=row.available(now), debit=-net)
        rules.check_balance_fits(row, balance=row.balance + net, amount=abs(net))


def _post(movement):
    """Write `movement` as one balanced journal; the Journal, with `posting_list`.

    Lock, check, write. A movement whose idempotency key is taken is found when writing (or,
    if the rules refuse it now, perhaps because the first attempt spent the money, before
    refusing): the first attempt's journal is returned and nothing is written.
    """
    now = timezone.now()
    rows = _lock_entries(movement.entries)
    try:
        _check(movement, rows, now)
    except RuleViolation:
        if movement.idempotency_key and (
            Journal.objects.filter(idempotency_key=movement.idempotency_key).exists()
        ):
            return _replay(movement)
        raise
    info = get_request_info()
    journal = Journal(
        kind=movement.kind,
        description=movement.description,
        actor=actor_label(movement.by),
        channel=info.channel,
        request_id=info.request_id,
        idempotency_key=movement.idempotency_key,
        value_date=movement.value_date or timezone.localdate(),
        reversal_of_id=movement.reversal_of_id,
        created_at=now,
    )
    before = {row.account_id: row.balance for row in rows.values()}
    postings = []
    for entry in movement.entries:
        row = rows[entry.account_id]
        row.balance += entry.amount
        postings.append(
            Posting(
                tenant=get_current_tenant(),
                journal=journal,
                account_id=entry.account_id,
                amount=entry.amount,
                balance_after=row.balance,
                kind=movement.kind,
                description=entry.description or movement.description,
                value_date=journal.value_date,
                posted_at=now,
                external_reference=movement.external_reference,
            )
        )
    if not _write(journal, postings, list(rows.values()), now):
        return _replay(movement)
    emit_audit_event(
        action=movement.kind,
        resource_type="journal",
        resource_id=journal.public_id,
        changes={
            f"balance:{row.reference}": [
                currencies.format_amount(before[row.account_id], row.currency),
                currencies.format_amount(row.balance, row.currency),
            ]
            for row in rows.values()
        },
        related=[f"accounts.account:{row.reference}" for row in rows.values()],
        actor=journal.actor,
    )
    journal.posting_list = postings
    return journal


def _posting_of(journal, account):
    return next(p for p in journal.posting_list if p.account_id == account.pk)


def _settlement(currency):
    code = InternalCode.SETTLEMENT
    account_id = internal.internal_account_id(
        tenant_id=get_current_tenant().pk, code=code, currency=currency
    )
    return account_id, (code, currency)


# --- money ------------------------------------------------------------------------------------


def _settle(*, kind, account, amount, credit, **details):
    """Credit (`credit`) or debit `account` against the settlement account of its currency,
    the debit posted first; the posting on `account`."""
    amount = rules.clean_amount(amount, account.currency)
    settlement_id, tag = _settlement(account.currency)
    if credit:
        entries = [_Entry(settlement_id, -amount, internal=tag), _Entry(account.pk, amount)]
    else:
        entries = [_Entry(account.pk, -amount), _Entry(settlement_id, amount, internal=tag)]
    journal = _post(_Movement(kind=kind, entries=entries, **details))
    return _posting_of(journal, account)


@retry_transient
@transaction.atomic
def deposit(
    *,
    account,
    amount,
    description="",
    value_date=None,
    external_reference="",
    idempotency_key="",
    by=None,
):
    """Credit `account` from the settlement account; the posting on `account`."""
    return _settle(
        kind=JournalKind.DEPOSIT,
        account=account,
        amount=amount,
        credit=True,
        description=description,
        value_date=value_date,
        external_reference=external_reference,
        idempotency_key=idempotency_key,
        by=by,
    )


@retry_transient
@transaction.atomic
def withdraw(
    *,
    account,
    amount,
    description="",
    value_date=None,
    external_reference="",
    idempotency_key="",
    by=None,
):
    """Debit `account` to the settlement account, within its available balance; the posting
    on `account`."""
    return _settle(
        kind=JournalKind.WITHDRAWAL,
        account=account,
        amount=amount,
        credit=False,
        description=description,
        value_date=value_date,
        external_reference=external_reference,
        idempotency_key=idempotency_key,
        by=by,
    )


@retry_transient
@transaction.atomic
def transfer(
    *,
    from_account,
    to_account,
    amount,
    description="",
    value_date=None,
    external_reference="",
    idempotency_key="",
    by=None,
):
    """Move `amount` between two accounts of one currency; the Journal, whose
    `posting_list` is [debit, credit]."""
    if from_account.pk == to_account.pk:
        raise ValidationError({"to_account": "A transfer needs two different accounts."})
    amount = rules.clean_amount(amount, from_account.currency)
    rules.check_same_currency([to_account], from_account.currency)
    return _post(
        _Movement(
            kind=JournalKind.TRANSFER,
            entries=[_Entry(from_account.pk, -amount), _Entry(to_account.pk, amount)],
            description=description,
            value_date=value_date,
            external_reference=external_reference,
            idempotency_key=idempotency_key,
            by=by,
        )
    )


@retry_transient
@transaction.atomic
def post_journal(
    *,
    kind,
    lines,
    description="",
    value_date=None,
    external_reference="",
    idempotency_key="",
    reversal_of=None,
    by=None,
):
    """Post any balanced set of `lines` (`Line`s) as one journal of `kind`: what lending uses
    for disbursements, repayments, fees, interest, penalties and write-offs. Amounts are
    signed (credits positive), non-zero, in each account's minor unit; customer accounts stay
    within their available balance."""
    JournalKind(kind)  # ValueError for an unknown kind
    entries = []
    for line in lines:
        if line.amount == 0 or line.amount != currencies.quantize(
            line.amount, line.account.currency
        ):
            raise ValidationError(
                {"amount": f"{line.amount} is not a non-zero {line.account.currency} amount."}
            )
        entries.append(_Entry(line.account.pk, line.amount, line.description))
    return _post(
        _Movement(
            kind=kind,
            entries=entries,
            description=description,
            value_date=value_date,
            external_reference=external_reference,
            idempotency_key=idempotency_key,
            reversal_of_id=reversal_of.pk if reversal_of is not None else None,
            by=by,
        )
    )


@retry_transient
@transaction.atomic
def reverse_journal(*, journal, description="", by=None):
    """Post the exact opposite of `journal` (never altered) as a `reversal` journal; a journal
    is reversed at most once, and a reversal is not itself reversed."""
    original = Journal.objects.select_for_update().filter(pk=journal.pk).first()
    if original is None:
        raise NotFound("No journal with this id.")
    if original.kind == JournalKind.REVERSAL:
        raise Conflict("A reversal is not reversed; post the movement again instead.")
    if Journal.objects.filter(reversal_of=original).exists():
        raise Conflict(f"Journal {original.public_id} has already been reversed.")
    entries = [
        _Entry(p.account_id, -p.amount, p.description) for p in original.postings.order_by("id")
    ]
    return _post(
        _Movement(
            kind=JournalKind.REVERSAL,
            entries=entries,
            description=description or f"Reversal of {original.kind} {original.public_id}",
            reversal_of_id=original.pk,
            by=by,
        )
    )


# --- accounts ---------------------------------------------------------------------------------


@transaction.atomic
def open_account(*, customer, product, currency, overdraft_limit=ZERO, by=None):
    """Open an account for an active, KYC-verified customer (locked meanwhile, so it cannot
    be closed or deleted concurrently)."""
    product = rules.clean_product(product)
    currency = rules.clean_currency(currency)
    limit = rules.clean_overdraft_limit(overdraft_limit, currency=currency, product=product)
    holder = Customer.all_objects.select_for_update().filter(pk=customer.pk).first()
    if holder is None:
        raise NotFound("No customer with this reference.")
    rules.check_customer_can_open(holder)
    tenant = get_current_tenant()
    internal.create_internal_accounts(tenant, currency)  # the other side of its movements
    account = Account(
        tenant=tenant,
        customer=holder,
        reference=next_reference(tenant=tenant, prefix=Account.REFERENCE_PREFIX, model=Account),
        account_number=take_account_numbers(tenant.pk)[0],
        product=product,
        currency=currency,
        overdraft_limit=limit,
    )
    with acting_as(by):
        account.save()
    AccountBalance.objects.create(account=account, tenant=tenant)
    return account


def _locked_account(account):
    """Lock the account's balance and account rows (as money movements do); the Account."""
    locked = _lock_one(account)
    return locked, Account.all_objects.select_related("ledger_balance").get(pk=account.pk)


def _save_account(current, fields, by):
    with acting_as(by):
        current.save(update_fields=[*fields, "updated_at"])
    return current


UPDATABLE_FIELDS = frozenset({"overdraft_limit"})


@transaction.atomic
def update_account(*, account, changes, by=None):
    """Change the account's settings (`overdraft_limit`); one history row, none for no change."""
    unknown = set(changes) - UPDATABLE_FIELDS
    if unknown:
        raise TypeError(f"Unknown or read-only field(s): {', '.join(sorted(unknown))}.")
    locked, current = _locked_account(account)
    if current.status == Status.CLOSED:
        raise Conflict(f"{current.reference} is closed; its settings no longer change.")
    changed = []
    if "overdraft_limit" in changes:
        limit = rules.clean_overdraft_limit(
            changes["overdraft_limit"], currency=current.currency, product=current.product
        )
        if limit != current.overdraft_limit:
            rules.check_overdraft_change(
                current, balance=locked.balance, held=locked.held_now(timezone.now()), limit=limit
            )
            current.overdraft_limit = limit
            changed.append("overdraft_limit")
    return _save_account(current, changed, by) if changed else current


def _transition(account, action, extra=None):
    locked, current = _locked_account(account)
    target = rules.check_transition(current, action)
    if extra:
        extra(current, locked)
    current.status = target
    return locked, current


@transaction.atomic
def freeze_account(*, account, by=None):
    """Stop every movement on the account until unfrozen."""
    _, current = _transition(account, "freeze")
    return _save_account(current, ["status"], by)


@transaction.atomic
def unfreeze_account(*, account, by=None):
    _, current = _transition(account, "unfreeze")
    return _save_account(current, ["status"], by)


@transaction.atomic
def close_account(*, account, by=None):
    """Close for good: only with a zero balance, no active holds and nothing registered in
    `accounts.blockers` against it (an open loan)."""

    def closable(current, locked):
        reasons = closure_blockers(current)
        if reasons:
            raise Conflict(f"Cannot close {current.reference}: " + "; ".join(reasons) + ".")
        rules.check_closable(current, balance=locked.balance, held=locked.held_now(timezone.now()))
        current.closed_on = timezone.localdate()

    _, current = _transition(account, "close", extra=closable)
    return _save_account(current, ["status", "closed_on"], by)


# --- holds ------------------------------------------------------------------------------------


@transaction.atomic
def place_hold(*, account, amount, reason, expires_at=None, by=None):
    """Set `amount` aside on the account (within its available balance) until released or,
    with `expires_at`, until then: expired holds stop counting by themselves."""
    amount = rules.clean_amount(amount, account.currency)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the money is held."})
    now = timezone.now()
    if expires_at is not None and expires_at <= now:
        raise ValidationError({"expires_at": "The expiry must be in the future."})
    locked = _lock_one(account)
    rules.check_can_hold(locked)
    rules.check_available(locked, available=locked.available(now), debit=amount)
    hold = Hold(
        tenant=get_current_tenant(),
        account_id=locked.account_id,
        amount=amount,
        reason=reason,
        expires_at=expires_at,
    )
    with acting_as(by):
        hold.save()
    locked.held += amount
    if expires_at is not None and (
        locked.next_hold_expiry is None or expires_at < locked.next_hold_expiry
    ):
        locked.next_hold_expiry = expires_at
    locked.holds_summed = True
    _save_balances([locked], now)
    return hold


@transaction.atomic
def release_hold(*, hold, by=None):
    """Release an active hold: its amount is available again."""
    now = timezone.now()
    locked = _lock([hold.account_id]).get(hold.account_id)
    current = Hold.objects.select_for_update().filter(pk=hold.pk).first()
    if locked is None or current is None:
        raise NotFound("No hold with this id.")
    status = current.status_at(now)
    if status != Hold.Status.ACTIVE:
        raise Conflict(f"This hold is {status}; only an active hold is released.")
    current.released_at = now
    current.released_by = actor_label(by)
    with acting_as(by):
        current.save(update_fields=["released_at", "released_by", "updated_at"])
    locked.sum_holds(now)
    _save_balances([locked], now)
    return current
