"""Loan products, loans, their installments, repayments, penalties and collateral.

Only `lending.services` (and close of day) write these. Money amounts use the ledger's precision
(`accounts.models.AMOUNT`); each movement is a journal of the ledger, which the loan rows point
to. A loan's outstanding amounts are never stored: they derive from its installments
(`LoanQuerySet.with_outstanding`), so the schedule and the balances cannot disagree.
"""

import uuid

from django.db import models
from django.db.models import F, Q, Sum
from django.db.models.functions import Coalesce

from accounts.currencies import validate_currency
from accounts.models import AMOUNT
from core.history import tracked_history
from core.models import SoftDeleteModel, SoftDeleteQuerySet, TenantScopedModel
from core.models.softdelete import AllRowsManager, DeletedManager, LiveManager
from lending.schedule import Amortization, DayCount, Frequency, InterestMethod, Overpayment

RATE = {"max_digits": 9, "decimal_places": 4}  # annual percent: 12.5 is 12.5 %
COMPONENTS = ("penalties", "fees", "interest", "principal")
DEFAULT_ALLOCATION_ORDER = list(COMPONENTS)


def _choices(enum):
    return [(member.value, member.value) for member in enum]


def _default_allocation_order():
    return list(DEFAULT_ALLOCATION_ORDER)


def _default_frequencies():
    return [Frequency.MONTHLY.value]


class ProductQuerySet(SoftDeleteQuerySet):
    def get_by_natural_key(self, tenant_slug, reference):
        return self.get(tenant__slug=tenant_slug, reference=reference)


class LoanProduct(SoftDeleteModel):
    REFERENCE_PREFIX = "LPR-"

    class FeeType(models.TextChoices):
        NONE = "none"
        FLAT = "flat"  # `origination_fee` is an amount
        PERCENT = "percent"  # `origination_fee` is a percent of the principal

    class PenaltyType(models.TextChoices):
        NONE = "none"
        FLAT = "flat"  # `penalty_amount` once per missed installment
        RATE = "rate"  # `penalty_rate` annual percent on the overdue amount, per day late

    reference = models.CharField(max_length=20, editable=False)
    name = models.CharField(max_length=100)
    currency = models.CharField(max_length=3, validators=[validate_currency])
    min_principal = models.DecimalField(**AMOUNT)
    max_principal = models.DecimalField(**AMOUNT)
    min_interest_rate = models.DecimalField(**RATE)
    max_interest_rate = models.DecimalField(**RATE)
    min_installments = models.PositiveIntegerField()
    max_installments = models.PositiveIntegerField()
    repayment_frequencies = models.JSONField(default=_default_frequencies)
    interest_method = models.CharField(
        max_length=24,
        choices=_choices(InterestMethod),
        default=InterestMethod.DECLINING_BALANCE.value,
    )
    amortization = models.CharField(
        max_length=24, choices=_choices(Amortization), default=Amortization.EQUAL_INSTALLMENTS.value
    )
    day_count = models.CharField(max_length=16, choices=_choices(DayCount), default="30/360")
    grace_installments = models.PositiveIntegerField(default=0)
    origination_fee_type = models.CharField(
        max_length=16, choices=FeeType.choices, default=FeeType.NONE
    )
    origination_fee = models.DecimalField(**AMOUNT, default=0)
    penalty_type = models.CharField(
        max_length=16, choices=PenaltyType.choices, default=PenaltyType.NONE
    )
    penalty_amount = models.DecimalField(**AMOUNT, default=0)
    penalty_rate = models.DecimalField(**RATE, default=0)
    penalty_tolerance_days = models.PositiveIntegerField(default=0)
    allocation_order = models.JSONField(default=_default_allocation_order)
    overpayment = models.CharField(
        max_length=24, choices=_choices(Overpayment), default=Overpayment.REDUCE_INSTALLMENTS.value
    )
    is_active = models.BooleanField(default=True)

    objects = LiveManager.from_queryset(ProductQuerySet)()
    all_objects = AllRowsManager.from_queryset(ProductQuerySet)()
    deleted_objects = DeletedManager.from_queryset(ProductQuerySet)()
    history = tracked_history()

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "reference"], name="loanproduct_reference"),
            models.CheckConstraint(
                condition=Q(min_principal__gt=0) & Q(max_principal__gte=F("min_principal")),
                name="loanproduct_principal_range",
            ),
            models.CheckConstraint(
                condition=Q(min_interest_rate__gte=0)
                & Q(max_interest_rate__gte=F("min_interest_rate")),
                name="loanproduct_rate_range",
            ),
            models.CheckConstraint(
                condition=Q(min_installments__gte=1)
                & Q(max_installments__gte=F("min_installments")),
                name="loanproduct_installments_range",
            ),
        ]
        indexes = [models.Index(fields=["tenant", "name"], name="loanproduct_tenant_name")]

    def __str__(self):
        return f"{self.reference} {self.name}"

    def natural_key(self):
        return (self.tenant.slug, self.reference)

    natural_key.dependencies = ["core.tenant"]


class LoanQuerySet(SoftDeleteQuerySet):
    def get_by_natural_key(self, tenant_slug, reference):
        return self.get(tenant__slug=tenant_slug, reference=reference)

    def with_outstanding(self):
        """Annotate `outstanding_principal`, `_interest`, `_fees`, `_penalties` and `_total`
        (what the installments still owe), one subquery each: no query per loan."""
        owed = {}
        for component in COMPONENTS:
            sums = (
                Installment.objects.filter(loan=models.OuterRef("pk"))
                .order_by()
                .values("loan")
                .annotate(total=Sum(F(component) - F(f"{component}_paid")))
                .values("total")
            )
            owed[f"outstanding_{component}"] = Coalesce(
                models.Subquery(sums), models.Value(0), output_field=_decimal()
            )
        return self.annotate(**owed).annotate(
            outstanding_total=F("outstanding_penalties")
            + F("outstanding_fees")
            + F("outstanding_interest")
            + F("outstanding_principal")
        )

    def with_collateral_value(self):
        """Annotate `collateral_value`: what the loan's live collateral in its own currency is
        worth (other currencies are not converted and not counted), one subquery."""
        value = (
            Collateral.objects.filter(
                loan=models.OuterRef("pk"), currency=models.OuterRef("currency")
            )
            .order_by()
            .values("loan")
            .annotate(total=Sum("value"))
            .values("total")
        )
        return self.annotate(
            collateral_value=Coalesce(
                models.Subquery(value), models.Value(0), output_field=_decimal()
            )
        )


def _decimal():
    return models.DecimalField(**AMOUNT)


class Loan(SoftDeleteModel):
    REFERENCE_PREFIX = "LN-"

    class Status(models.TextChoices):
        PENDING_APPROVAL = "pending_approval"
        APPROVED = "approved"
        REJECTED = "rejected"
        WITHDRAWN = "withdrawn"
        ACTIVE = "active"
        CLOSED = "closed"
        WRITTEN_OFF = "written_off"

    reference = models.CharField(max_length=20, editable=False)
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="loans", db_index=False
    )
    product = models.ForeignKey(LoanProduct, on_delete=models.PROTECT, related_name="loans")
    account = models.ForeignKey(
        "accounts.Account", on_delete=models.PROTECT, related_name="loans", db_index=False
    )
    # The terms, copied from the application (the product may change later).
    currency = models.CharField(max_length=3, editable=False)
    principal = models.DecimalField(**AMOUNT)
    annual_interest_rate = models.DecimalField(**RATE)
    number_of_installments = models.PositiveIntegerField()
    repayment_frequency = models.CharField(max_length=16, choices=_choices(Frequency))
    interest_method = models.CharField(max_length=24, choices=_choices(InterestMethod))
    amortization = models.CharField(max_length=24, choices=_choices(Amortization))
    day_count = models.CharField(max_length=16, choices=_choices(DayCount))
    grace_installments = models.PositiveIntegerField(default=0)
    start_date = models.DateField(null=True, blank=True)
    first_repayment_date = models.DateField(null=True, blank=True)
    # The lifecycle.
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.PENDING_APPROVAL, editable=False
    )
    submitted_on = models.DateField(editable=False)
    submitted_by = models.CharField(max_length=150, blank=True, editable=False)
    approved_on = models.DateField(null=True, blank=True, editable=False)
    approved_by = models.CharField(max_length=150, blank=True, editable=False)
    # Who rejected or withdrew the application, when and why.
    decided_on = models.DateField(null=True, blank=True, editable=False)
    decided_by = models.CharField(max_length=150, blank=True, editable=False)
    decision_reason = models.CharField(max_length=500, blank=True, editable=False)
    disbursed_on = models.DateField(null=True, blank=True, editable=False)
    maturity_date = models.DateField(null=True, blank=True, editable=False)
    closed_on = models.DateField(null=True, blank=True, editable=False)
    written_off_on = models.DateField(null=True, blank=True, editable=False)
    days_past_due = models.PositiveIntegerField(default=0, editable=False)
    disbursement_journal = models.OneToOneField(
        "accounts.Journal",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="disbursed_loan",
        editable=False,
    )
    fee_journal = models.OneToOneField(
        "accounts.Journal",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="fee_of_loan",
        editable=False,
    )
    write_off_journal = models.OneToOneField(
        "accounts.Journal",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="written_off_loan",
        editable=False,
    )

    objects = LiveManager.from_queryset(LoanQuerySet)()
    all_objects = AllRowsManager.from_queryset(LoanQuerySet)()
    deleted_objects = DeletedManager.from_queryset(LoanQuerySet)()
    history = tracked_history()
    history_related = ("customer", "account")  # a loan's changes show in both histories

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "reference"], name="loan_reference"),
            models.CheckConstraint(condition=Q(principal__gt=0), name="loan_principal_positive"),
            models.CheckConstraint(
                condition=Q(number_of_installments__gte=1), name="loan_installments_positive"
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["active", "closed", "written_off"])
                | Q(disbursed_on__isnull=False, disbursement_journal__isnull=False),
                name="loan_disbursed_when_active",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "-created_at", "-id"], name="loan_tenant_created"),
            models.Index(fields=["tenant", "customer"], name="loan_tenant_customer"),
            models.Index(fields=["tenant", "account"], name="loan_tenant_account"),
            models.Index(fields=["tenant", "status"], name="loan_tenant_status"),
        ]

    def __str__(self):
        return f"{self.reference} ({self.status})"

    def natural_key(self):
        return (self.tenant.slug, self.reference)

    natural_key.dependencies = ["core.tenant", "customers.customer", "accounts.account"]


class Installment(TenantScopedModel):
    """One due date of a loan's schedule. Written at disbursement; afterwards only its paid
    amounts, penalties and status change (and, after an overpayment, the amounts still to
    come: `lending.services`)."""

    class Status(models.TextChoices):
        PENDING = "pending"
        PARTIALLY_PAID = "partially_paid"
        PAID = "paid"
        OVERDUE = "overdue"

    loan = models.ForeignKey(
        Loan, on_delete=models.PROTECT, related_name="installments", db_index=False
    )
    number = models.PositiveIntegerField()
    due_date = models.DateField()
    principal = models.DecimalField(**AMOUNT)
    interest = models.DecimalField(**AMOUNT)
    fees = models.DecimalField(**AMOUNT, default=0)
    penalties = models.DecimalField(**AMOUNT, default=0)
    principal_paid = models.DecimalField(**AMOUNT, default=0)
    interest_paid = models.DecimalField(**AMOUNT, default=0)
    fees_paid = models.DecimalField(**AMOUNT, default=0)
    penalties_paid = models.DecimalField(**AMOUNT, default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    paid_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["loan", "number"]
        constraints = [
            models.UniqueConstraint(fields=["loan", "number"], name="installment_loan_number"),
            models.CheckConstraint(
                condition=Q(principal_paid__lte=F("principal"))
                & Q(interest_paid__lte=F("interest"))
                & Q(fees_paid__lte=F("fees"))
                & Q(penalties_paid__lte=F("penalties")),
                name="installment_not_overpaid",
            ),
            models.CheckConstraint(
                condition=Q(principal__gte=0, interest__gte=0, fees__gte=0, penalties__gte=0)
                & Q(principal_paid__gte=0, interest_paid__gte=0)
                & Q(fees_paid__gte=0, penalties_paid__gte=0),
                name="installment_not_negative",
            ),
        ]
        indexes = [
            # Close of day: the tenant's installments of a status falling due by a date.
            models.Index(fields=["tenant", "status", "due_date"], name="installment_status_due"),
            models.Index(fields=["tenant", "loan", "number"], name="installment_tenant_loan"),
        ]

    def __str__(self):
        return f"{self.loan_id} #{self.number} due {self.due_date}"

    @property
    def total(self):
        return self.principal + self.interest + self.fees + self.penalties

    @property
    def paid(self):
        return self.principal_paid + self.interest_paid + self.fees_paid + self.penalties_paid

    @property
    def outstanding(self):
        return self.total - self.paid


class Repayment(TenantScopedModel):
    """One payment received on a loan, its journal and how it was allocated: `amount` is the
    sum of the four totals (the services allocate all of it; no CHECK says so, as SQLite would
    compare the sum as a float)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    loan = models.ForeignKey(
        Loan, on_delete=models.PROTECT, related_name="repayments", db_index=False
    )
    amount = models.DecimalField(**AMOUNT)
    received_on = models.DateField()
    journal = models.OneToOneField(
        "accounts.Journal", on_delete=models.PROTECT, related_name="loan_repayment"
    )
    principal = models.DecimalField(**AMOUNT, default=0)
    interest = models.DecimalField(**AMOUNT, default=0)
    fees = models.DecimalField(**AMOUNT, default=0)
    penalties = models.DecimalField(**AMOUNT, default=0)
    # The date from which interest runs on the principal left after this payment repaid
    # principal ahead of schedule (null: it repaid none ahead).
    rescheduled_on = models.DateField(null=True, blank=True)
    # The installments as they were before an overpayment recomputed them, so that a
    # reversal restores them exactly: [{number, due_date, principal, interest}, ...].
    schedule_before = models.JSONField(default=list, blank=True)
    reversed_at = models.DateTimeField(null=True, blank=True)
    reversal_journal = models.OneToOneField(
        "accounts.Journal",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reversed_loan_repayment",
    )

    class Meta:
        ordering = ["-received_on", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="repayment_amount_positive"),
        ]
        indexes = [
            models.Index(fields=["tenant", "loan", "-received_on", "-id"], name="repayment_loan"),
        ]

    def __str__(self):
        return f"repayment {self.public_id} of {self.amount} on {self.loan_id}"


class RepaymentAllocation(TenantScopedModel):
    """What one repayment paid of one installment, and the installment's status before: a
    reversal subtracts these amounts and puts the status back."""

    repayment = models.ForeignKey(Repayment, on_delete=models.PROTECT, related_name="allocations")
    installment = models.ForeignKey(
        Installment, on_delete=models.PROTECT, related_name="allocations"
    )
    principal = models.DecimalField(**AMOUNT, default=0)
    interest = models.DecimalField(**AMOUNT, default=0)
    fees = models.DecimalField(**AMOUNT, default=0)
    penalties = models.DecimalField(**AMOUNT, default=0)
    status_before = models.CharField(max_length=16, choices=Installment.Status.choices)
    paid_on_before = models.DateField(null=True, blank=True)
    updated_at = None

    class Meta:
        ordering = ["repayment", "installment__number"]
        constraints = [
            models.UniqueConstraint(
                fields=["repayment", "installment"], name="allocation_once_per_installment"
            ),
        ]

    def __str__(self):
        return f"{self.repayment_id} -> {self.installment_id}"


class PenaltyCharge(TenantScopedModel):
    """A late-payment penalty charged on an installment by close of day for one date."""

    installment = models.ForeignKey(
        Installment, on_delete=models.PROTECT, related_name="penalty_charges"
    )
    charged_on = models.DateField()
    amount = models.DecimalField(**AMOUNT)
    updated_at = None

    class Meta:
        ordering = ["installment", "charged_on"]
        constraints = [
            models.UniqueConstraint(
                fields=["installment", "charged_on"], name="penalty_once_per_day"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="penalty_amount_positive"),
        ]

    def __str__(self):
        return f"penalty {self.amount} on {self.installment_id} ({self.charged_on})"


class Collateral(SoftDeleteModel):
    class Type(models.TextChoices):
        REAL_ESTATE = "real_estate"
        VEHICLE = "vehicle"
        DEPOSIT = "deposit"
        SECURITIES = "securities"
        GUARANTEE = "guarantee"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="collateral")
    type = models.CharField(max_length=16, choices=Type.choices)
    description = models.CharField(max_length=500)
    value = models.DecimalField(**AMOUNT)
    currency = models.CharField(max_length=3, validators=[validate_currency])
    valuation_date = models.DateField()
    guarantor = models.ForeignKey(
        "customers.Customer",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="guarantees",
    )

    objects = LiveManager()
    all_objects = AllRowsManager()
    deleted_objects = DeletedManager()
    history = tracked_history()
    AUDIT_ID_FIELD = "public_id"  # audit events name it by the id the API shows
    history_related = ("loan",)

    class Meta:
        ordering = ["loan", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(value__gt=0), name="collateral_value_positive"),
            models.CheckConstraint(
                condition=Q(type="guarantee", guarantor__isnull=False)
                | (~Q(type="guarantee") & Q(guarantor__isnull=True)),
                name="collateral_guarantor_for_guarantee",
            ),
        ]

    def __str__(self):
        return f"{self.type} {self.value} {self.currency} for {self.loan_id}"


class ClosedDay(TenantScopedModel):
    """The last day close of day has closed for a tenant (one row each): the next run starts
    the day after. Its row is locked while a day closes (`lending.close_of_day`)."""

    tenant = models.OneToOneField("core.Tenant", on_delete=models.PROTECT, related_name="+")
    last_closed_on = models.DateField()

    def __str__(self):
        return f"closed through {self.last_closed_on}"
