"""Tenant scoping for querysets: fail closed, resolved when the query runs.

`Model.objects` of a tenant-scoped model hands out querysets marked "needs a tenant". The mark is
resolved when the SQL is compiled (or the query is embedded as a subquery, or an update/delete
runs): the current tenant's filter is added then, and with no tenant set `NoTenantError` is raised.
Resolving late rather than in `get_queryset()` matters because Django builds querysets at import
time (a ModelForm's foreign-key choices); those must pick up the tenant of the request that
finally evaluates them, and must still raise when evaluated outside any tenant.
"""

from django.db import models
from django.db.models import sql

from core.context import TenantMismatchError, check_writable_tenant, get_current_tenant


class TenantScopedQuery(sql.Query):
    """A Query that gets the current tenant's filter each time it becomes SQL.

    The filter goes on a copy: the query itself stays "pending", so a queryset compiled once in
    one scope and reused in another is filtered for the scope it finally runs in. Embedded as a
    subquery (`__in=qs`, Subquery, Exists), it is compiled through `get_compiler` too, so it is
    scoped when the outer query runs, not when it was built.
    """

    tenant_scope_pending = False

    def scoped(self):
        """A copy filtered to the current tenant (unfiltered in system scope); raises
        NoTenantError outside any scope."""
        tenant = get_current_tenant()
        query = self.clone()
        query.tenant_scope_pending = False
        if tenant is not None and not query.combinator:
            query.add_q(models.Q(tenant_id=tenant.pk))
        return query

    def get_compiler(self, using=None, connection=None, elide_empty=True):
        if self.tenant_scope_pending:
            return self.scoped().get_compiler(using, connection, elide_empty)
        return super().get_compiler(using, connection, elide_empty)


class TenantQuerySet(models.QuerySet):
    """Writes in bulk switch the Query class (UpdateQuery, DeleteQuery): scope them first.

    Rows written in bulk are checked like `save()` checks one: never another tenant's row
    outside system scope (TenantMismatchError), never any row outside every scope, and never a
    new tenant for a stored row, in any scope (system scope included, where no row-level
    security would stop the move).
    """

    def _refuse_tenant_write(self, field_names):
        """A row's tenant is fixed when the row is created (`save()` checks one row): a bulk
        write never sets it, whatever the value, since it cannot tell which rows it would move."""
        if {"tenant", "tenant_id"} & set(field_names):
            raise TenantMismatchError(
                f"Cannot set the tenant of {self.model._meta.label} rows in bulk: a row's "
                "tenant never changes."
            )

    def _scoped_now(self):
        clone = self._chain()
        if getattr(clone.query, "tenant_scope_pending", False):
            clone.query = clone.query.scoped()
        return clone

    def bulk_create(self, objs, *args, **kwargs):
        objs = list(objs)
        for obj in objs:
            if hasattr(obj, "assign_tenant"):  # a TenantScopedModel also takes the tenant
                obj.assign_tenant()
            else:  # a model with its own tenant rules (the audit log): only checked
                check_writable_tenant(self.model, obj.tenant_id)
        return super().bulk_create(objs, *args, **kwargs)

    bulk_create.alters_data = True

    def bulk_update(self, objs, fields, *args, **kwargs):
        self._refuse_tenant_write(fields)
        objs = list(objs)
        for obj in objs:
            check_writable_tenant(self.model, obj.tenant_id)
        return super().bulk_update(objs, fields, *args, **kwargs)

    bulk_update.alters_data = True

    def update(self, **kwargs):
        self._refuse_tenant_write(kwargs)
        return super(TenantQuerySet, self._scoped_now()).update(**kwargs)

    update.alters_data = True

    def _update(self, values):
        return super(TenantQuerySet, self._scoped_now())._update(values)

    _update.alters_data = True

    def delete(self):
        return super(TenantQuerySet, self._scoped_now()).delete()

    delete.alters_data = True
    delete.queryset_only = True  # as Django's: `Model.objects.delete()` must not exist

    def _raw_delete(self, using):
        return super(TenantQuerySet, self._scoped_now())._raw_delete(using)

    _raw_delete.alters_data = True


class TenantManager(models.Manager.from_queryset(TenantQuerySet)):
    """The default manager of tenant data: only the current tenant's rows, or an error."""

    def get_queryset(self):
        query = TenantScopedQuery(self.model)
        query.tenant_scope_pending = True
        return self._queryset_class(
            model=self.model, query=query, using=self._db, hints=self._hints
        )
