from django.db import models
from django.db.models import Max, Q

from core.context import get_current_tenant
from core.history import tracked_history
from core.models import SoftDeleteModel, SoftDeleteQuerySet, live_unique
from core.models.softdelete import AllRowsManager, DeletedManager, LiveManager
from core.references import take_numbers


class CustomerQuerySet(SoftDeleteQuerySet):
    def get_by_natural_key(self, tenant_slug, reference):
        return self.get(tenant__slug=tenant_slug, reference=reference)


class RelationshipQuerySet(SoftDeleteQuerySet):
    def bulk_create(self, objs, *args, **kwargs):
        objs = list(objs)
        by_tenant = {}
        for relationship in objs:
            if relationship.number is None:
                by_tenant.setdefault(relationship.tenant_id, []).append(relationship)
        for tenant_id, unnumbered in by_tenant.items():
            numbers = take_relationship_numbers(tenant_id, len(unnumbered))
            for relationship, number in zip(unnumbered, numbers, strict=True):
                relationship.number = number
        return super().bulk_create(objs, *args, **kwargs)

    def get_by_natural_key(self, tenant_slug, customer_ref, related_ref, role):
        return self.get(
            tenant__slug=tenant_slug,
            customer__reference=customer_ref,
            related_customer__reference=related_ref,
            type=role,
        )


RELATIONSHIP_COUNTER = "REL"


def take_relationship_numbers(tenant_id, count=1):
    """The tenant's next relationship numbers: the `id` partners see, counted per tenant so it
    tells nothing of other tenants (a global autoincrement id would)."""
    return take_numbers(
        tenant_id=tenant_id,
        counter=RELATIONSHIP_COUNTER,
        count=count,
        highest_in_use=lambda: (
            CustomerRelationship._base_manager.filter(tenant_id=tenant_id).aggregate(
                highest=Max("number")
            )["highest"]
            or 0
        ),
    )


def mask_national_id(value):
    """Only the last four characters are ever shown: `*****6789`."""
    if not value:
        return ""
    visible = value[-4:] if len(value) > 4 else ""
    return "*" * (len(value) - len(visible)) + visible


class Customer(SoftDeleteModel):
    REFERENCE_PREFIX = "CUS-"

    class Type(models.TextChoices):
        INDIVIDUAL = "individual"
        BUSINESS = "business"

    class Status(models.TextChoices):
        PROSPECT = "prospect"
        ACTIVE = "active"
        DORMANT = "dormant"
        CLOSED = "closed"
        BLOCKED = "blocked"

    class KycStatus(models.TextChoices):
        PENDING = "pending"
        VERIFIED = "verified"
        REJECTED = "rejected"
        EXPIRED = "expired"

    class RiskRating(models.TextChoices):
        LOW = "low"
        MEDIUM = "medium"
        HIGH = "high"

    reference = models.CharField(max_length=20, editable=False)
    type = models.CharField(max_length=16, choices=Type.choices)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    legal_name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(max_length=254, blank=True)
    phone = models.CharField(max_length=16, blank=True, help_text="E.164, e.g. +442079460958")
    date_of_birth = models.DateField(null=True, blank=True)
    national_id = models.CharField(
        max_length=64, blank=True, help_text="Stored; shown masked to its last 4 characters."
    )
    address_line1 = models.CharField("address line 1", max_length=200, blank=True)
    address_line2 = models.CharField("address line 2", max_length=200, blank=True)
    address_city = models.CharField("city", max_length=100, blank=True)
    address_postal_code = models.CharField("postal code", max_length=20, blank=True)
    address_country = models.CharField(
        "country", max_length=2, blank=True, help_text="ISO 3166-1 alpha-2, e.g. GB"
    )
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PROSPECT, editable=False
    )
    kyc_status = models.CharField(
        "KYC status",
        max_length=16,
        choices=KycStatus.choices,
        default=KycStatus.PENDING,
        editable=False,
    )
    kyc_changed_at = models.DateTimeField("KYC changed at", null=True, blank=True, editable=False)
    kyc_changed_by = models.CharField("KYC changed by", max_length=150, blank=True, editable=False)
    risk_rating = models.CharField(max_length=8, choices=RiskRating.choices, default=RiskRating.LOW)
    # Lower-cased names in one column: what search matches (trigram-indexed on PostgreSQL).
    search_name = models.CharField(max_length=400, blank=True, editable=False)

    objects = LiveManager.from_queryset(CustomerQuerySet)()
    all_objects = AllRowsManager.from_queryset(CustomerQuerySet)()
    deleted_objects = DeletedManager.from_queryset(CustomerQuerySet)()
    history = tracked_history(excluded_fields=["search_name"])
    history_masked_fields = {"national_id": mask_national_id}

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "reference"], name="customer_reference"),
            live_unique("tenant", "email", name="customer_live_email", condition=~Q(email="")),
            models.CheckConstraint(
                condition=Q(type="business") | (~Q(first_name="") & ~Q(last_name="")),
                name="customer_individual_named",
            ),
            models.CheckConstraint(
                condition=Q(type="individual") | ~Q(legal_name=""),
                name="customer_business_named",
            ),
            # Fields of the other type stay empty (customers.rules says so field by field).
            models.CheckConstraint(
                condition=Q(type="business") | Q(legal_name=""),
                name="customer_individual_no_legal_name",
            ),
            models.CheckConstraint(
                condition=Q(type="individual")
                | Q(first_name="", last_name="", date_of_birth__isnull=True),
                name="customer_business_no_person_fields",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "-created_at", "-id"], name="customer_tenant_created"),
            models.Index(fields=["tenant", "status"], name="customer_tenant_status"),
            models.Index(fields=["tenant", "kyc_status"], name="customer_tenant_kyc"),
            models.Index(fields=["tenant", "email"], name="customer_tenant_email"),
            models.Index(fields=["tenant", "phone"], name="customer_tenant_phone"),
            models.Index(fields=["tenant", "national_id"], name="customer_tenant_national_id"),
        ]

    def __str__(self):
        return f"{self.reference} {self.display_name}"

    def natural_key(self):
        return (self.tenant.slug, self.reference)

    natural_key.dependencies = ["core.tenant"]

    @property
    def display_name(self):
        if self.type == self.Type.BUSINESS:
            return self.legal_name
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def masked_national_id(self):
        return mask_national_id(self.national_id)

    def save(self, *args, **kwargs):
        self.search_name = " ".join(
            part for part in (self.first_name, self.last_name, self.legal_name) if part
        ).lower()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and {"first_name", "last_name", "legal_name"} & set(
            update_fields
        ):
            kwargs["update_fields"] = {*update_fields, "search_name"}
        super().save(*args, **kwargs)


class CustomerRelationship(SoftDeleteModel):
    """`related_customer` holds the role `type` towards `customer` (Jane is a shareholder of
    Acme: customer=Acme, related_customer=Jane)."""

    class Type(models.TextChoices):
        SHAREHOLDER = "shareholder"
        DIRECTOR = "director"
        GUARANTOR = "guarantor"
        SPOUSE = "spouse"
        AUTHORISED_SIGNATORY = "authorised_signatory"

    OWNERSHIP_TYPES = frozenset({Type.SHAREHOLDER})

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="relationships")
    related_customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="roles_held"
    )
    type = models.CharField(max_length=24, choices=Type.choices)
    ownership_percentage = models.DecimalField(
        max_digits=7, decimal_places=4, null=True, blank=True, help_text="Percent, in (0, 100]."
    )
    started_on = models.DateField(null=True, blank=True)
    ended_on = models.DateField(null=True, blank=True)
    # The relationship's `id` in the API: per tenant, allocated on first save.
    number = models.PositiveBigIntegerField(editable=False)

    objects = LiveManager.from_queryset(RelationshipQuerySet)()
    all_objects = AllRowsManager.from_queryset(RelationshipQuerySet)()
    deleted_objects = DeletedManager.from_queryset(RelationshipQuerySet)()
    history = tracked_history()
    AUDIT_ID_FIELD = "number"  # audit events name it by the id the API shows
    history_related = ("customer", "related_customer")  # shown in both customers' histories

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "number"], name="relationship_number"),
            models.CheckConstraint(
                condition=~Q(customer=models.F("related_customer")),
                name="relationship_not_self",
            ),
            models.CheckConstraint(
                condition=Q(ownership_percentage__isnull=True)
                | (Q(ownership_percentage__gt=0) & Q(ownership_percentage__lte=100)),
                name="relationship_percentage_range",
            ),
            models.CheckConstraint(
                condition=~Q(type="shareholder") | Q(ownership_percentage__isnull=False),
                name="relationship_shareholder_percentage",
            ),
            models.CheckConstraint(
                condition=Q(ended_on__isnull=True)
                | Q(started_on__isnull=True)
                | Q(ended_on__gte=models.F("started_on")),
                name="relationship_dates_ordered",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "customer", "type"], name="relationship_tenant_owned"),
            models.Index(
                fields=["tenant", "related_customer", "type"], name="relationship_tenant_holder"
            ),
        ]

    def __str__(self):
        return f"{self.related_customer_id} {self.type} of {self.customer_id}"

    def save(self, *args, **kwargs):
        tenant_id = self.tenant_id or getattr(get_current_tenant(), "pk", None)
        if self.number is None and tenant_id is not None:
            (self.number,) = take_relationship_numbers(tenant_id)
        super().save(*args, **kwargs)

    def natural_key(self):
        return (
            self.tenant.slug,
            self.customer.reference,
            self.related_customer.reference,
            self.type,
        )

    natural_key.dependencies = ["customers.customer"]
