"""Writes are checked in Python too (SQLite and PostgreSQL): a tenant-scoped row of another
tenant than the current one is refused with an error, never silently rewritten or written."""

import pytest

from core.context import NoTenantError, TenantMismatchError, system_scope, tenant_context
from core.models import ReferenceCounter
from customers.models import Customer
from tests.customers.factories import CustomerFactory


def counters():
    with system_scope():
        return set(ReferenceCounter.objects.values_list("tenant_id", "prefix"))


def test_create_and_save_refuse_another_tenants_row(tenant, other_tenant):
    with tenant_context(tenant):
        with pytest.raises(TenantMismatchError, match="while acting for tenant"):
            ReferenceCounter.objects.create(tenant=other_tenant, prefix="X-")
        with pytest.raises(TenantMismatchError):
            ReferenceCounter(tenant=other_tenant, prefix="Y-").save()
        ReferenceCounter.objects.create(prefix="OWN-")  # the current tenant is filled in
    assert counters() == {(tenant.pk, "OWN-")}


def test_saving_a_loaded_row_of_another_tenant_is_refused(tenant, other_tenant):
    theirs = CustomerFactory(tenant=other_tenant)
    with tenant_context(tenant):
        theirs.first_name = "Mallory"
        with pytest.raises(TenantMismatchError):
            theirs.save()
        theirs.tenant = tenant  # "moving" it into the current tenant is an update of B's row
        with pytest.raises(TenantMismatchError, match="tenant never changes"):
            theirs.save()
        theirs.tenant_id = other_tenant.pk
        with pytest.raises(TenantMismatchError):
            theirs.save(update_fields=["first_name"])
    with system_scope():
        stored = Customer.objects.get(pk=theirs.pk)
        assert (stored.first_name, stored.tenant_id) != ("Mallory", tenant.pk)
        assert stored.tenant_id == other_tenant.pk
        stored.tenant = tenant  # not even the platform moves a row between banks
        with pytest.raises(TenantMismatchError, match="tenant never changes"):
            stored.save()


def test_bulk_create_refuses_the_whole_batch(tenant, other_tenant):
    with tenant_context(tenant):
        batch = [
            ReferenceCounter(prefix="A-"),
            ReferenceCounter(tenant=tenant, prefix="B-"),
            ReferenceCounter(tenant=other_tenant, prefix="C-"),
        ]
        with pytest.raises(TenantMismatchError):
            ReferenceCounter.objects.bulk_create(batch)
        assert counters() == set()
        ReferenceCounter.objects.bulk_create(batch[:2])
    assert counters() == {(tenant.pk, "A-"), (tenant.pk, "B-")}


@pytest.mark.parametrize("scope", ["tenant", "system"])
def test_bulk_writes_never_move_rows_between_tenants(scope, tenant, other_tenant):
    """A row's tenant never changes: not through update() or bulk_update(), in any scope,
    system scope included (where no row-level security would stop it)."""
    mine = CustomerFactory(tenant=tenant, first_name="Ann")
    scope_cm = tenant_context(tenant) if scope == "tenant" else system_scope()
    with scope_cm:
        for value in (other_tenant, other_tenant.pk, tenant):
            with pytest.raises(TenantMismatchError, match="tenant never changes"):
                Customer.objects.filter(pk=mine.pk).update(tenant=value)
        with pytest.raises(TenantMismatchError, match="tenant never changes"):
            Customer.objects.update(tenant_id=other_tenant.pk, first_name="Mallory")
        moved = Customer.all_objects.get(pk=mine.pk)
        moved.tenant = other_tenant
        moved.first_name = "Mallory"
        for fields in (["tenant"], ["tenant_id", "first_name"]):
            with pytest.raises(TenantMismatchError, match="tenant never changes"):
                Customer.all_objects.bulk_update([moved], fields)
    with tenant_context(tenant):
        mine.refresh_from_db()
    assert (mine.tenant_id, mine.first_name) == (tenant.pk, "Ann")


def test_bulk_update_refuses_another_tenants_rows(tenant, other_tenant):
    theirs = CustomerFactory(tenant=other_tenant, first_name="Ann")
    with tenant_context(tenant):
        theirs.first_name = "Mallory"
        with pytest.raises(TenantMismatchError):
            Customer.objects.bulk_update([theirs], ["first_name"])


def test_no_scope_writes_nothing(tenant):
    with pytest.raises(NoTenantError):
        ReferenceCounter.objects.create(tenant=tenant, prefix="X-")
    with pytest.raises(NoTenantError):
        ReferenceCounter.objects.bulk_create([ReferenceCounter(tenant=tenant, prefix="Y-")])
    assert counters() == set()


def test_system_scope_writes_any_tenant(tenant, other_tenant):
    with system_scope():
        ReferenceCounter.objects.bulk_create(
            [ReferenceCounter(tenant=t, prefix="S-") for t in (tenant, other_tenant)]
        )
        ReferenceCounter.objects.create(tenant=other_tenant, prefix="T-")
        assert ReferenceCounter.objects.filter(prefix="T-").update(prefix="U-") == 1
    assert counters() == {(tenant.pk, "S-"), (other_tenant.pk, "S-"), (other_tenant.pk, "U-")}
