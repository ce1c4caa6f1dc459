from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

from core.history import tracked_history

currency_code_validator = RegexValidator(
    r"^[A-Z]{3}$", "Enter an ISO 4217 currency code: three capital letters, such as EUR."
)


class TenantQuerySet(models.QuerySet):
    def get_by_natural_key(self, slug):
        return self.get(slug=slug)


class Tenant(models.Model):
    """A bank or lender using Ledgerline. Not tenant-scoped itself."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        SUSPENDED = "suspended"
        CLOSED = "closed"

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=63, unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    default_currency = models.CharField(
        max_length=3, default="EUR", validators=[currency_code_validator]
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()
    history = tracked_history()
    AUDIT_ID_FIELD = "slug"  # audit events name a bank by its slug

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def natural_key(self):
        return (self.slug,)

    @property
    def is_active(self):
        return self.status == self.Status.ACTIVE


class StaffMembershipQuerySet(models.QuerySet):
    def get_by_natural_key(self, username):
        return self.get(user__username=username)


class StaffMembership(models.Model):
    """Ties a back-office user to the one tenant they work for."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_membership"
    )
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="staff")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = StaffMembershipQuerySet.as_manager()
    history = tracked_history()

    class Meta:
        ordering = ["tenant", "user"]

    def __str__(self):
        return f"{self.user} @ {self.tenant}"

    def natural_key(self):
        return (self.user.get_username(),)

    natural_key.dependencies = ["auth.user", "core.tenant"]

    @staticmethod
    def tenant_of(user):
        """The bank `user` works for, or None (a platform operator, or no membership): the one
        way the back office reads it (the middleware, the admin site, the lockout, the staff
        audit)."""
        membership = getattr(user, "staff_membership", None)  # reverse one-to-one: may be absent
        return membership.tenant if membership is not None else None
