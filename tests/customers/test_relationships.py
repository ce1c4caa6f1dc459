from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from core.context import tenant_context
from core.errors import ConflictError
from customers import services
from customers.forms import RelationshipForm
from customers.models import CustomerRelationship
from tests.conftest import postgres_only
from tests.customers.factories import BusinessFactory, CustomerFactory, ShareholdingFactory


@pytest.fixture
def acme(in_tenant):
    return BusinessFactory(tenant=in_tenant, legal_name="Acme Ltd")


@pytest.fixture
def jane(in_tenant):
    return CustomerFactory(tenant=in_tenant, first_name="Jane")


def add(company, **data):
    form = RelationshipForm(data=data, customer=company)
    if not form.is_valid():
        return form.errors
    return services.add_relationship(
        customer=company, relationship=form.save(commit=False), by="user:test"
    )


def test_shareholder_added(acme, jane):
    rel = add(acme, type="shareholder", related_customer=jane.reference, ownership_percentage="60")
    assert rel.ownership_percentage == Decimal("60") and rel.related_customer == jane


def test_shareholder_needs_percentage(acme, jane):
    assert "ownership_percentage" in add(acme, type="shareholder", related_customer=jane.reference)


@pytest.mark.parametrize("pct", ["0", "-5", "100.0001", "250"])
def test_percentage_must_be_in_range(acme, jane, pct):
    errors = add(
        acme, type="shareholder", related_customer=jane.reference, ownership_percentage=pct
    )
    assert "ownership_percentage" in errors


def test_hundred_percent_is_allowed(acme, jane):
    add(acme, type="shareholder", related_customer=jane.reference, ownership_percentage="100")


def test_director_has_no_percentage(acme, jane):
    errors = add(acme, type="director", related_customer=jane.reference, ownership_percentage="10")
    assert "ownership_percentage" in errors
    assert add(acme, type="director", related_customer=jane.reference).type == "director"


def test_direct_ownership_sums_to_at_most_100(acme, jane, in_tenant):
    bob = CustomerFactory(tenant=in_tenant)
    add(acme, type="shareholder", related_customer=jane.reference, ownership_percentage="70")
    errors = add(
        acme, type="shareholder", related_customer=bob.reference, ownership_percentage="30.5"
    )
    assert "exceed 100%" in errors["ownership_percentage"][0]
    add(acme, type="shareholder", related_customer=bob.reference, ownership_percentage="30")


def test_ended_relationships_do_not_count_towards_100(acme, jane, in_tenant):
    rel = add(acme, type="shareholder", related_customer=jane.reference, ownership_percentage="90")
    services.end_relationship(relationship=rel)
    bob = CustomerFactory(tenant=in_tenant)
    add(acme, type="shareholder", related_customer=bob.reference, ownership_percentage="90")


def test_no_self_relationship(acme):
    errors = add(acme, type="director", related_customer=acme.reference)
    assert "itself" in errors["related_customer"][0]


def test_no_ownership_cycle(in_tenant, acme):
    holding = BusinessFactory(tenant=in_tenant)
    sub = BusinessFactory(tenant=in_tenant)
    ShareholdingFactory(customer=acme, related_customer=holding)  # holding owns acme
    ShareholdingFactory(customer=holding, related_customer=sub)  # sub owns holding
    errors = add(
        sub, type="shareholder", related_customer=acme.reference, ownership_percentage="10"
    )  # acme owning sub would close the loop
    assert "circle" in errors["related_customer"][0]


def test_individual_cannot_have_shareholders(jane, in_tenant):
    bob = CustomerFactory(tenant=in_tenant)
    assert "type" in add(
        jane, type="shareholder", related_customer=bob.reference, ownership_percentage="10"
    )


def test_spouse_between_individuals(jane, in_tenant):
    bob = CustomerFactory(tenant=in_tenant)
    assert add(jane, type="spouse", related_customer=bob.reference).type == "spouse"


def test_end_before_start_is_refused(acme, jane):
    errors = add(
        acme,
        type="director",
        related_customer=jane.reference,
        started_on="2026-01-10",
        ended_on="2026-01-01",
    )
    assert "ended_on" in errors


def test_same_role_twice_is_refused(acme, jane):
    add(acme, type="director", related_customer=jane.reference)
    assert (
        "already holds"
        in add(acme, type="director", related_customer=jane.reference)["related_customer"][0]
    )


def test_related_customer_of_another_tenant_is_not_found(acme, other_tenant):
    with tenant_context(other_tenant):
        foreign = CustomerFactory.create_batch(3, tenant=other_tenant)[-1]
    assert foreign.reference == "CUS-000003"  # a reference unused in our tenant
    errors = add(acme, type="director", related_customer=foreign.reference)
    assert errors["related_customer"] == ["No customer with this reference."]


def test_service_rechecks_rules_under_lock(acme, jane, in_tenant):
    """A form validated before another addition cannot push the total past 100 %."""
    bob = CustomerFactory(tenant=in_tenant)
    first = RelationshipForm(
        data={
            "type": "shareholder",
            "related_customer": jane.reference,
            "ownership_percentage": "60",
        },
        customer=acme,
    )
    second = RelationshipForm(
        data={
            "type": "shareholder",
            "related_customer": bob.reference,
            "ownership_percentage": "60",
        },
        customer=acme,
    )
    assert first.is_valid() and second.is_valid()
    services.add_relationship(customer=acme, relationship=first.save(commit=False))
    with pytest.raises(ValidationError):
        services.add_relationship(customer=acme, relationship=second.save(commit=False))
    assert CustomerRelationship.objects.filter(customer=acme).count() == 1


def test_end_relationship_soft_deletes_with_end_date(acme, jane):
    rel = add(acme, type="director", related_customer=jane.reference)
    ended = services.end_relationship(relationship=rel, by="user:test")
    assert ended.is_deleted and ended.ended_on is not None
    assert ended.history.latest().action == "soft_delete"
    with pytest.raises(ConflictError):
        services.end_relationship(relationship=ended)


def test_deleting_a_customer_ends_its_relationships(acme, jane):
    add(acme, type="shareholder", related_customer=jane.reference, ownership_percentage="60")
    services.soft_delete_customer(customer=jane, by="user:test")
    assert not CustomerRelationship.objects.filter(customer=acme).exists()
    ended = CustomerRelationship.deleted_objects.get(customer=acme)
    assert ended.ended_on is not None


def test_service_refuses_another_tenants_customer(acme, other_tenant):
    with tenant_context(other_tenant):
        foreign = CustomerFactory(tenant=other_tenant)
    relationship = CustomerRelationship(type="director", related_customer=foreign)
    with pytest.raises(ValidationError, match="No customer with this reference"):
        services.add_relationship(customer=acme, relationship=relationship)


def test_ending_a_relationship_that_never_started_cancels_it(acme, jane):
    rel = add(acme, type="director", related_customer=jane.reference, started_on="2099-01-01")
    cancelled = services.end_relationship(relationship=rel)
    assert cancelled.is_deleted and cancelled.ended_on is None


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_opposite_shareholdings_cannot_form_a_cycle(tenant):
    import threading

    from django.db import close_old_connections

    with tenant_context(tenant):
        a, b = BusinessFactory(tenant=tenant), BusinessFactory(tenant=tenant)
    barrier, outcomes = threading.Barrier(2), []

    def own(company, owner):
        try:
            with tenant_context(tenant):
                barrier.wait()
                rel = CustomerRelationship(
                    type="shareholder", related_customer=owner, ownership_percentage=Decimal(10)
                )
                services.add_relationship(customer=company, relationship=rel)
                outcomes.append("saved")
        except ValidationError:
            outcomes.append("refused")
        finally:
            close_old_connections()

    threads = [threading.Thread(target=own, args=pair) for pair in ((a, b), (b, a))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["refused", "saved"]


def test_relationship_of_a_deleted_customer_cannot_be_restored(acme, jane):
    rel = add(acme, type="director", related_customer=jane.reference, started_on="2099-01-01")
    services.soft_delete_customer(customer=jane)
    with pytest.raises(ConflictError, match="is deleted"):
        services.restore_relationship(relationship=rel)
