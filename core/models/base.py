from django.core.exceptions import ValidationError
from django.db import models

from core.context import TenantMismatchError, check_writable_tenant, get_current_tenant
from core.scoping import TenantManager


def tenant_key(*, db_index=True, null=False):
    """The tenant foreign key of a tenant row. `db_index=False` on a model whose own indexes
    all lead with the tenant: a lone tenant_id index would only cost every insert. `null`: a
    row may belong to the platform rather than a tenant (audit events)."""
    return models.ForeignKey(
        "core.Tenant",
        null=null,
        blank=null,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=db_index,
    )


class TenantScopedModel(models.Model):
    """Base of every row that belongs to a tenant.

    `objects` is filtered to the current tenant and raises without one; `_base_manager`
    (used by Django for saves and relations) never filters.
    """

    tenant = tenant_key()
    created_at = models.DateTimeField(auto_now_add=True, db_index=False)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantManager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        self.check_tenant_unchanged()
        self.assign_tenant()
        super().save(*args, **kwargs)
        self._stored_tenant_id = self.tenant_id

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._stored_tenant_id = instance.__dict__.get("tenant_id")
        return instance

    def check_tenant_unchanged(self):
        """A row's tenant is fixed when it is created: a stored row given another tenant is
        refused, in every scope (saved, it would move the row between banks where no row-level
        security stops it, as on SQLite)."""
        stored = self.__dict__.get("_stored_tenant_id")
        if stored is not None and self.tenant_id != stored:
            raise TenantMismatchError(
                f"Cannot move a {self._meta.label} row from tenant {stored} to tenant "
                f"{self.tenant_id}: a row's tenant never changes."
            )

    def assign_tenant(self):
        """Take the current tenant when none is set; refuse another tenant's row (also what
        bulk_create() does to each row)."""
        check_writable_tenant(type(self), self.tenant_id)
        if self.tenant_id is None:
            tenant = get_current_tenant()
            if tenant is None:
                raise ValidationError(
                    {"tenant": "A tenant is required when saving in system scope."}
                )
            self.tenant = tenant

    def clean(self):
        super().clean()
        self.check_same_tenant()

    def check_same_tenant(self):
        """Every tenant-scoped row this row points to must belong to the same tenant."""
        errors = {}
        for field in self._meta.concrete_fields:
            if not field.is_relation or field.name == "tenant":
                continue
            if not issubclass(field.related_model, TenantScopedModel):
                continue
            related_id = getattr(self, field.attname)
            if related_id is None or self.tenant_id is None:
                continue
            related_tenant = (
                field.related_model._base_manager.filter(pk=related_id)
                .values_list("tenant_id", flat=True)
                .first()
            )
            # None: no such row, or (row-level security) one this tenant cannot see.
            if related_tenant != self.tenant_id:
                errors[field.name] = "Not found."
        if errors:
            raise ValidationError(errors)
