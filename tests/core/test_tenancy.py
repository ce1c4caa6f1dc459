import pytest
from django.db.models import Exists, OuterRef

from core.context import NoTenantError, current_scope, system_scope, tenant_context
from core.models import IdempotencyRecord, PartnerKey
from core.services import issue_partner_key


@pytest.fixture
def keys(tenant, other_tenant):
    with system_scope():
        mine, _ = issue_partner_key(tenant=tenant, name="mine", scopes=[])
        theirs, _ = issue_partner_key(tenant=other_tenant, name="theirs", scopes=[])
    return mine, theirs


def test_query_without_tenant_raises(keys):
    with pytest.raises(NoTenantError):
        list(PartnerKey.objects.all())
    with pytest.raises(NoTenantError):
        PartnerKey.objects.count()
    with pytest.raises(NoTenantError):
        PartnerKey.objects.filter(name="mine").exists()


def test_update_and_delete_without_tenant_raise(keys):
    with pytest.raises(NoTenantError):
        PartnerKey.objects.update(name="x")
    with pytest.raises(NoTenantError):
        IdempotencyRecord.objects.all().delete()


def test_manager_sees_only_current_tenant(keys, tenant, other_tenant):
    mine, theirs = keys
    with tenant_context(tenant):
        assert list(PartnerKey.objects.all()) == [mine]
        assert not PartnerKey.objects.filter(pk=theirs.pk).exists()
        with pytest.raises(PartnerKey.DoesNotExist):
            PartnerKey.objects.get(pk=theirs.pk)
    with tenant_context(other_tenant):
        assert list(PartnerKey.objects.all()) == [theirs]


def test_bulk_update_touches_only_current_tenant(keys, tenant):
    _mine, theirs = keys
    with tenant_context(tenant):
        assert PartnerKey.objects.update(name="renamed") == 1
    with system_scope():
        theirs.refresh_from_db()
    assert theirs.name == "theirs"


def test_subqueries_are_scoped(keys, tenant):
    _mine, _theirs = keys
    with tenant_context(tenant):
        # The outer query is unscoped on purpose: only the embedded subquery filters.
        outer = PartnerKey._base_manager.filter(pk__in=PartnerKey.objects.values("pk"))
        assert set(outer.values_list("name", flat=True)) == {"mine"}
        annotated = PartnerKey._base_manager.annotate(
            visible=Exists(PartnerKey.objects.filter(pk=OuterRef("pk")))
        )
        visible = {k.name: k.visible for k in annotated}
        # On PostgreSQL row-level security hides "theirs" from the outer query as well.
        assert visible["mine"] is True and visible.get("theirs", False) is False


def test_queryset_built_outside_a_tenant_is_scoped_when_evaluated(keys, tenant):
    queryset = PartnerKey.objects.all()  # e.g. a ModelForm's choices, built at import time
    with tenant_context(tenant):
        assert [k.name for k in queryset.all()] == ["mine"]
    with pytest.raises(NoTenantError):
        list(queryset.all())


def test_system_scope_sees_every_tenant(keys):
    with system_scope():
        assert PartnerKey.objects.count() == 2


def test_save_fills_tenant_from_context(tenant):
    with tenant_context(tenant):
        key, _ = issue_partner_key(tenant=tenant, name="k", scopes=[])
        record = IdempotencyRecord.objects.create(
            key="abc", partner_key=key, method="POST", path="/x", fingerprint="f"
        )
    assert record.tenant == tenant and key.tenant == tenant


def test_contexts_are_reset_after_use(tenant):
    assert current_scope() is None
    with tenant_context(tenant):
        with system_scope():
            assert current_scope().system
        assert current_scope().tenant == tenant
    assert current_scope() is None


def test_tenant_does_not_leak_between_requests_even_after_an_error(api, other_api, monkeypatch):
    from core.api import views

    seen = []

    def explode(self, request):
        seen.append(current_scope().tenant.slug)
        raise RuntimeError("boom")

    explode.operation = views.Me.get.operation
    monkeypatch.setattr(views.Me, "get", explode)
    assert api.get("/api/v1/me").status_code == 500
    assert seen == ["harbour"]
    assert current_scope() is None
    monkeypatch.undo()
    assert other_api.get("/api/v1/me").json()["tenant"] == "northwind"
    assert current_scope() is None


def test_query_compiled_in_one_scope_is_rescoped_in_the_next(keys, tenant):
    queryset = PartnerKey.objects.all()
    with system_scope():
        str(queryset.query)  # compiled (e.g. logged) while spanning tenants
        assert queryset.count() == 2
    with tenant_context(tenant):
        assert [k.name for k in queryset.all()] == ["mine"]
        assert [k.name for k in queryset] == ["mine"]


def test_subquery_is_scoped_where_it_runs_not_where_it_was_built(keys, tenant):
    from core.models import Tenant

    with system_scope():
        tenants_with_keys = Tenant.objects.filter(pk__in=PartnerKey.objects.values("tenant_id"))
    with tenant_context(tenant):
        assert list(tenants_with_keys) == [tenant]


def test_manager_has_no_bulk_delete():
    assert not hasattr(PartnerKey.objects, "delete")
