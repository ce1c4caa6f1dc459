"""core/db/prepared.py: a queryset compiled once gives what the ORM gives, scoped as it is."""

import threading

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.db.models import Value
from django.test.utils import CaptureQueriesContext

from core.context import NoTenantError, system_scope, tenant_context
from core.db import prepared
from core.db.prepared import PreparedQuery
from core.models import PartnerKey
from core.services import issue_partner_key
from customers.models import Customer
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def _by_reference():
    return PreparedQuery(
        lambda first, second: Customer.objects.filter(reference__in=[first, second]).order_by(
            "reference"
        )
    )


def _fields(instance):
    values = {k: v for k, v in instance.__dict__.items() if k != "_state"}
    return values, instance._state.db, instance._state.adding


@pytest.fixture
def count_compiles(monkeypatch):
    compiled = []
    original = prepared._Compiled.__init__

    def counting(self, *args, **kwargs):
        compiled.append(1)
        original(self, *args, **kwargs)

    monkeypatch.setattr(prepared._Compiled, "__init__", counting)
    return compiled


def test_same_instances_as_the_queryset_and_compiled_once(tenant, count_compiles):
    with tenant_context(tenant):
        one, two, _three = (CustomerFactory(tenant=tenant) for _ in range(3))
        query = _by_reference()
        for _ in range(3):
            found = query(first=two.reference, second=one.reference)
            expected = list(
                Customer.objects.filter(reference__in=[one.reference, two.reference]).order_by(
                    "reference"
                )
            )
            assert found == expected
            assert [_fields(c) for c in found] == [_fields(c) for c in expected]
        assert query(first="nobody", second="nobody") == []
    assert len(count_compiles) == 1


def test_select_related_and_annotations_are_filled(tenant):
    with system_scope():
        key, _raw = issue_partner_key(tenant=tenant, name="k", scopes=[])
        query = PreparedQuery(
            lambda prefix: (
                PartnerKey._base_manager.select_related("tenant")
                .annotate(label=Value("x"))
                .filter(prefix=prefix)
            )
        )
        (found,) = query(prefix=key.prefix)
    with CaptureQueriesContext(connection) as queries:
        assert found.tenant == tenant
        assert found.tenant.slug == tenant.slug
    assert len(queries) == 0
    assert found.label == "x"
    assert found.pk == key.pk


def test_each_tenant_scope_gets_its_own_filter(tenant, other_tenant, count_compiles):
    with tenant_context(tenant):
        mine = CustomerFactory(tenant=tenant, reference="CUS-SAME-1")
    with tenant_context(other_tenant):
        theirs = CustomerFactory(tenant=other_tenant, reference="CUS-SAME-1")
    query = _by_reference()
    with tenant_context(tenant):
        assert query(first="CUS-SAME-1", second="CUS-SAME-1") == [mine]
    with tenant_context(other_tenant):
        assert query(first="CUS-SAME-1", second="CUS-SAME-1") == [theirs]
    with tenant_context(tenant):
        assert query(first="CUS-SAME-1", second="CUS-SAME-1") == [mine]
    with system_scope():
        assert {c.pk for c in query(first="CUS-SAME-1", second="x")} == {mine.pk, theirs.pk}
    assert len(count_compiles) == 3


def test_outside_any_scope_it_raises_every_time(tenant):
    query = _by_reference()
    for _ in range(2):
        with pytest.raises(NoTenantError):
            query(first="a", second="b")


def test_each_thread_compiles_its_own(tenant, count_compiles):
    query = _by_reference()
    with tenant_context(tenant):
        query(first="a", second="b")
    errors = []

    def other_thread():
        try:
            with tenant_context(tenant):
                query(first="a", second="b")
        except Exception as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()
    assert not errors
    assert len(count_compiles) == 2


def test_a_transformed_value_is_refused(tenant):
    query = PreparedQuery(lambda name: Customer.objects.filter(last_name__icontains=name))
    with tenant_context(tenant), pytest.raises(ImproperlyConfigured, match="name"):
        query(name="x")


def test_values_must_be_text_and_complete(tenant):
    query = _by_reference()
    with tenant_context(tenant):
        with pytest.raises(TypeError, match="text"):
            query(first=1, second="b")
        with pytest.raises(TypeError, match="first, second"):
            query(first="a")


def test_each_thread_keeps_the_most_recent_scopes_only(tenant, other_tenant, count_compiles):
    query = _by_reference()
    query.MAX_SCOPES = 1
    for scope in (tenant, tenant, other_tenant, tenant):
        with tenant_context(scope):
            query(first="a", second="b")
    assert len(count_compiles) == 3  # the first tenant was evicted by the second, then again
