"""Relationship ids in the API are numbered per tenant: they tell nothing of other tenants."""

from decimal import Decimal

import pytest

from core.context import system_scope, tenant_context
from customers.models import CustomerRelationship
from tests.customers.factories import BusinessFactory, CustomerFactory, ShareholdingFactory


def _company_with_holders(tenant, holders):
    with tenant_context(tenant):
        company = BusinessFactory(tenant=tenant)
        for _ in range(holders):
            ShareholdingFactory(customer=company, ownership_percentage=Decimal("10"))
    return company


def _ids(api, company):
    body = api.get(f"/api/v1/customers/{company.reference}/relationships").json()
    return [row["id"] for row in body["data"]]


def test_ids_count_per_tenant(api, other_api, tenant, other_tenant):
    ours = _company_with_holders(tenant, 3)
    theirs = _company_with_holders(other_tenant, 2)
    assert _ids(api, ours) == [1, 2, 3]
    assert _ids(other_api, theirs) == [1, 2]


def test_added_relationship_answers_its_tenant_number(api, other_tenant, tenant):
    _company_with_holders(other_tenant, 4)  # takes global ids first
    with tenant_context(tenant):
        company, jane = BusinessFactory(tenant=tenant), CustomerFactory(tenant=tenant)
    response = api.post(
        f"/api/v1/customers/{company.reference}/relationships",
        {"type": "director", "related_customer": jane.reference},
    )
    assert response.status_code == 201, response.content
    assert response.json()["id"] == 1


def test_delete_addresses_the_tenant_number_not_the_global_id(api, tenant, other_tenant):
    _company_with_holders(other_tenant, 2)
    company = _company_with_holders(tenant, 1)
    with system_scope():
        ours = CustomerRelationship.objects.get(tenant=tenant)
    assert ours.pk > ours.number == 1  # the other tenant took global ids first
    path = f"/api/v1/customers/{company.reference}/relationships"
    assert api.delete(f"{path}/{ours.pk}").status_code == 404  # the global id means nothing
    assert api.delete(f"{path}/1").status_code == 204
    with system_scope():
        assert CustomerRelationship.deleted_objects.get(pk=ours.pk)


def test_bulk_created_relationships_are_numbered(in_tenant):
    company = BusinessFactory(tenant=in_tenant)
    ShareholdingFactory(customer=company, ownership_percentage=Decimal("5"))
    holders = [CustomerFactory(tenant=in_tenant) for _ in range(3)]
    CustomerRelationship.objects.bulk_create(
        CustomerRelationship(
            tenant=in_tenant, customer=company, related_customer=holder, type="director"
        )
        for holder in holders
    )
    numbers = CustomerRelationship.objects.order_by("number").values_list("number", flat=True)
    assert list(numbers) == [1, 2, 3, 4]


def test_numbers_are_unique_per_tenant(in_tenant):
    from django.db import IntegrityError, transaction

    first = ShareholdingFactory(customer=BusinessFactory(tenant=in_tenant))
    with pytest.raises(IntegrityError), transaction.atomic():
        ShareholdingFactory(customer=first.customer, number=first.number)


def test_relationship_cursor_of_another_tenant_is_400(api, other_api, tenant, other_tenant):
    theirs = _company_with_holders(other_tenant, 3)
    ours = _company_with_holders(tenant, 3)
    path = "/api/v1/customers/{}/relationships"
    cursor = other_api.get(path.format(theirs.reference), {"limit": 1}).json()["next_cursor"]
    response = api.get(path.format(ours.reference), {"cursor": cursor})
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["cursor"]
