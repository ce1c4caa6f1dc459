"""Accounts and the double-entry ledger.

An `Account` (customer deposit account or one of the tenant's internal ledger accounts) has one
`AccountBalance` row, kept apart so that money movements never write the account's history: the
ledger is its own history. A `Journal` is one money movement; its `Posting`s (the contract's
"transactions") carry signed amounts, credits positive, that sum to zero per currency. Journals
and postings are immutable: the models refuse changes and, on PostgreSQL, a trigger does too.
Only `accounts.services` writes any of this.
"""

import uuid

from django.db import models
from django.db.models import Q, Sum
from django.utils import timezone

from accounts.currencies import validate_currency
from core.history import tracked_history
from core.models import SoftDeleteModel, SoftDeleteQuerySet, TenantScopedModel
from core.models.base import tenant_key
from core.models.softdelete import AllRowsManager, DeletedManager, LiveManager
from core.scoping import TenantManager, TenantQuerySet

AMOUNT = {"max_digits": 20, "decimal_places": 4}


class LedgerImmutableError(RuntimeError):
    """Journals and postings are never changed or deleted: a mistake is corrected by a
    reversal (`accounts.services.reverse_journal`)."""


class InternalCode(models.TextChoices):
    SETTLEMENT = "settlement"
    LOAN_PORTFOLIO = "loan_portfolio"
    INTEREST_INCOME = "interest_income"
    FEE_INCOME = "fee_income"
    PENALTY_INCOME = "penalty_income"
    WRITE_OFF_EXPENSE = "write_off_expense"
    SUSPENSE = "suspense"


class AccountQuerySet(SoftDeleteQuerySet):
    def get_by_natural_key(self, tenant_slug, reference):
        return self.get(tenant__slug=tenant_slug, reference=reference)

    def customer_accounts(self):
        return self.filter(internal_code="")

    def with_balances(self, now=None):
        """Join the balance row and annotate `held_now`, the holds still active: the stored
        `held` unless one of them has expired since it was summed, then the sum of the active
        ones (the subquery only runs for such rows)."""
        now = now or timezone.now()
        active = (
            Hold.objects.filter(account=models.OuterRef("pk"))
            .active(now)
            .order_by()
            .values("account")
            .annotate(total=Sum("amount"))
            .values("total")
        )
        return self.select_related("ledger_balance").annotate(
            held_now=models.Case(
                models.When(
                    ledger_balance__next_hold_expiry__lte=now,
                    then=models.functions.Coalesce(
                        models.Subquery(active), models.Value(0), output_field=_decimal()
                    ),
                ),
                default=models.F("ledger_balance__held"),
                output_field=_decimal(),
            )
        )


def _decimal():
    return models.DecimalField(**AMOUNT)


class Account(SoftDeleteModel):
    REFERENCE_PREFIX = "ACC-"

    class Product(models.TextChoices):
        CURRENT = "current"
        SAVINGS = "savings"

    class Status(models.TextChoices):
        ACTIVE = "active"
        FROZEN = "frozen"
        DORMANT = "dormant"
        CLOSED = "closed"

    InternalCode = InternalCode

    # ACC-000001 for customer accounts; <CODE>-<CUR> (SETTLEMENT-EUR) for internal ones.
    reference = models.CharField(max_length=32, editable=False)
    account_number = models.CharField(
        max_length=34, editable=False, help_text="Digits; the last two are MOD 97-10 check digits."
    )
    customer = models.ForeignKey(
        "customers.Customer",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="accounts",
        db_index=False,  # (tenant, customer) below serves it
    )
    internal_code = models.CharField(
        max_length=24, choices=InternalCode.choices, blank=True, editable=False
    )
    name = models.CharField(max_length=100, blank=True)
    product = models.CharField(max_length=16, choices=Product.choices, blank=True)
    currency = models.CharField(max_length=3, validators=[validate_currency])
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.ACTIVE, editable=False
    )
    overdraft_limit = models.DecimalField(**AMOUNT, default=0)
    opened_on = models.DateField(default=timezone.localdate)
    closed_on = models.DateField(null=True, blank=True, editable=False)

    objects = LiveManager.from_queryset(AccountQuerySet)()
    all_objects = AllRowsManager.from_queryset(AccountQuerySet)()
    deleted_objects = DeletedManager.from_queryset(AccountQuerySet)()
    history = tracked_history()
    history_related = ("customer",)  # an account's changes show in its customer's history

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "reference"], name="account_reference"),
            models.UniqueConstraint(fields=["tenant", "account_number"], name="account_number"),
            models.UniqueConstraint(
                fields=["tenant", "internal_code", "currency"],
                condition=~Q(internal_code=""),
                name="account_internal_per_currency",
            ),
            models.CheckConstraint(
                condition=Q(overdraft_limit__gte=0), name="account_overdraft_not_negative"
            ),
            # A customer account has a customer and a product; an internal one has neither.
            models.CheckConstraint(
                condition=(Q(internal_code="", customer__isnull=False) & ~Q(product=""))
                | (~Q(internal_code="") & Q(customer__isnull=True, product="")),
                name="account_customer_or_internal",
            ),
            models.CheckConstraint(
                condition=Q(status="closed", closed_on__isnull=False)
                | (~Q(status="closed") & Q(closed_on__isnull=True)),
                name="account_closed_on_when_closed",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "-created_at", "-id"], name="account_tenant_created"),
            models.Index(fields=["tenant", "customer"], name="account_tenant_customer"),
            models.Index(fields=["tenant", "status"], name="account_tenant_status"),
        ]

    def __str__(self):
        return f"{self.reference} ({self.currency})"

    def natural_key(self):
        return (self.tenant.slug, self.reference)

    natural_key.dependencies = ["core.tenant", "customers.customer"]

    @property
    def is_internal(self):
        return bool(self.internal_code)

    @property
    def balance(self):
        return self.ledger_balance.balance

    @property
    def held_amount(self):
        """What the active holds withhold now (see `AccountQuerySet.with_balances`)."""
        if "held_now" in self.__dict__:
            return self.__dict__["held_now"]
        return self.ledger_balance.held_now()

    @property
    def available_balance(self):
        """balance - active holds + overdraft limit."""
        return self.balance - self.held_amount + self.overdraft_limit


class AccountBalance(TenantScopedModel):
    """The account's running balance and what its holds withhold; updated only under
    `select_for_update` by `accounts.services`, in the same transaction as the postings."""

    account = models.OneToOneField(
        Account, primary_key=True, on_delete=models.PROTECT, related_name="ledger_balance"
    )
    balance = models.DecimalField(**AMOUNT, default=0)
    # Sum of the holds that were active when last summed ...
    held = models.DecimalField(**AMOUNT, default=0)
    # ... valid until this moment (the earliest expiry among them; null: none expires).
    next_hold_expiry = models.DateTimeField(null=True, blank=True)
    created_at = None

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(held__gte=0), name="balance_held_not_negative"),
        ]

    def __str__(self):
        return f"{self.account_id}: {self.balance}"

    def held_now(self, now=None):
        now = now or timezone.now()
        if self.next_hold_expiry is None or self.next_hold_expiry > now:
            return self.held
        return Hold.objects.filter(account_id=self.account_id).active(now).total()


class HoldQuerySet(TenantQuerySet):
    def active(self, now=None):
        now = now or timezone.now()
        return self.filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=now), released_at__isnull=True
        )

    def expired(self, now=None):
        return self.filter(released_at__isnull=True, expires_at__lte=now or timezone.now())

    def total(self):
        return self.aggregate(total=Sum("amount"))["total"] or 0


class Hold(TenantScopedModel):
    """Money set aside on an account (a card authorisation, a garnishment): it lowers the
    available balance until released or, with `expires_at`, until then."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        RELEASED = "released"
        EXPIRED = "expired"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="holds", db_index=False
    )
    amount = models.DecimalField(**AMOUNT)
    reason = models.CharField(max_length=200)
    expires_at = models.DateTimeField(null=True, blank=True)
    released_at = models.DateTimeField(null=True, blank=True, editable=False)
    released_by = models.CharField(max_length=150, blank=True, editable=False)

    objects = TenantManager.from_queryset(HoldQuerySet)()
    history = tracked_history()
    AUDIT_ID_FIELD = "public_id"  # audit events name it by the id the API shows
    history_related = ("account",)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="hold_amount_positive"),
        ]
        indexes = [
            models.Index(fields=["tenant", "account", "-created_at"], name="hold_tenant_account"),
            models.Index(
                fields=["tenant", "account"],
                condition=Q(released_at__isnull=True),
                name="hold_unreleased",
            ),
        ]

    def __str__(self):
        return f"hold {self.public_id} of {self.amount} on {self.account_id}"

    def status_at(self, now=None):
        if self.released_at is not None:
            return self.Status.RELEASED
        if self.expires_at is not None and self.expires_at <= (now or timezone.now()):
            return self.Status.EXPIRED
        return self.Status.ACTIVE

    @property
    def status(self):
        return self.status_at()


class ImmutableQuerySet(TenantQuerySet):
    """Ledger rows are inserted, never updated or deleted."""

    def update(self, **kwargs):
        raise LedgerImmutableError(f"{self.model._meta.verbose_name_plural} are never updated.")

    update.alters_data = True

    def bulk_update(self, objs, fields, *args, **kwargs):
        raise LedgerImmutableError(f"{self.model._meta.verbose_name_plural} are never updated.")

    bulk_update.alters_data = True

    def delete(self):
        raise LedgerImmutableError(f"{self.model._meta.verbose_name_plural} are never deleted.")

    delete.alters_data = True
    delete.queryset_only = True


class ImmutableModel(TenantScopedModel):
    # The ledger's indexes all lead with the tenant: no lone tenant_id index to write as well.
    tenant = tenant_key(db_index=False)
    updated_at = None

    objects = TenantManager.from_queryset(ImmutableQuerySet)()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise LedgerImmutableError(
                f"A {self._meta.verbose_name} is never changed; reverse its journal instead."
            )
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise LedgerImmutableError(
            f"A {self._meta.verbose_name} is never deleted; reverse its journal instead."
        )


class JournalKind(models.TextChoices):
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"
    TRANSFER = "transfer"
    LOAN_DISBURSEMENT = "loan_disbursement"
    LOAN_REPAYMENT = "loan_repayment"
    FEE = "fee"
    INTEREST = "interest"
    REVERSAL = "reversal"
    PENALTY = "penalty"
    WRITE_OFF = "write_off"


class Journal(ImmutableModel):
    """One money movement: its postings sum to zero per currency."""

    Kind = JournalKind

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    AUDIT_ID_FIELD = "public_id"  # audit events name it by the id the API shows
    kind = models.CharField(max_length=24, choices=JournalKind.choices)
    description = models.CharField(max_length=200, blank=True)
    actor = models.CharField(max_length=150, blank=True)
    channel = models.CharField(max_length=16, blank=True)
    request_id = models.CharField(max_length=128, blank=True)
    idempotency_key = models.CharField(max_length=255, blank=True)
    value_date = models.DateField()
    reversal_of = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by"
    )
    # Not stored: True on the journal a money service answers when the movement had been
    # posted already under the same idempotency key (nothing was written this time).
    replayed = False

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="journal_idempotency_key",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "-created_at", "-id"], name="journal_tenant_created"),
        ]

    def __str__(self):
        return f"{self.kind} {self.public_id}"


class Posting(ImmutableModel):
    """One line of a journal on one account (the API's "transaction")."""

    Kind = JournalKind

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    journal = models.ForeignKey(
        Journal, on_delete=models.PROTECT, related_name="postings", db_index=False
    )
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="postings", db_index=False
    )
    amount = models.DecimalField(**AMOUNT, help_text="Signed: credits positive.")
    balance_after = models.DecimalField(**AMOUNT)
    kind = models.CharField(max_length=24, choices=JournalKind.choices)
    description = models.CharField(max_length=200, blank=True)
    value_date = models.DateField()
    posted_at = models.DateTimeField(default=timezone.now)
    external_reference = models.CharField(max_length=100, blank=True)
    created_at = None

    class Meta:
        ordering = ["-posted_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="posting_amount_not_zero"),
        ]
        indexes = [
            # Statements: one account's postings newest first, keyset-paginated on
            # (posted_at, id); a page costs the same at 10 postings or 10 million.
            models.Index(
                fields=["tenant", "account", "-posted_at", "-id"], name="posting_statement"
            ),
            models.Index(fields=["tenant", "-posted_at", "-id"], name="posting_tenant_posted"),
            models.Index(fields=["tenant", "journal"], name="posting_tenant_journal"),
        ]

    def __str__(self):
        return f"{self.amount} on {self.account_id} ({self.kind})"
