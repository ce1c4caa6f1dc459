"""The soft-delete mechanism, exercised on Customer (the first soft-deletable model)."""

import pytest
from django.db import IntegrityError, transaction

from core.context import actor_context
from customers.models import Customer
from tests.customers.factories import CustomerFactory


@pytest.fixture
def pair(in_tenant):
    return CustomerFactory(tenant=in_tenant), CustomerFactory(tenant=in_tenant)


def test_three_managers(pair):
    live, gone = pair
    gone.soft_delete(by="user:test")
    assert list(Customer.objects.all()) == [live]
    assert set(Customer.all_objects.all()) == {live, gone}
    assert list(Customer.deleted_objects.all()) == [gone]
    assert gone.deleted_by == "user:test" and gone.is_deleted


def test_restore(pair):
    _live, gone = pair
    gone.soft_delete()
    gone.restore()
    gone.refresh_from_db()
    assert not gone.is_deleted and gone.deleted_by == ""
    assert Customer.objects.filter(pk=gone.pk).exists()


def test_queryset_soft_delete_records_history_per_row(pair):
    with actor_context(actor="system:cleanup"):
        assert Customer.objects.all().soft_delete() == 2
    assert not Customer.objects.exists()
    for customer in pair:
        row = customer.history.latest()
        assert row.action == "soft_delete" and row.actor == "system:cleanup"


def test_history_actions_soft_delete_and_restore(pair):
    customer, _ = pair
    customer.soft_delete(by="user:alice")
    customer.restore(by="user:bob")
    actions = list(customer.history.order_by("history_id").values_list("action", "actor"))
    assert actions[-2:] == [("soft_delete", "user:alice"), ("restore", "user:bob")]


def test_partial_unique_constraint_ignores_deleted_rows(in_tenant):
    first = CustomerFactory(tenant=in_tenant, email="dup@example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        CustomerFactory(tenant=in_tenant, email="dup@example.com")
    first.soft_delete()
    CustomerFactory(tenant=in_tenant, email="dup@example.com")  # a deleted row does not block
    assert Customer.all_objects.filter(email="dup@example.com").count() == 2


def test_blank_emails_never_collide(in_tenant):
    CustomerFactory(tenant=in_tenant, email="")
    CustomerFactory(tenant=in_tenant, email="")
    assert Customer.objects.filter(email="").count() == 2
