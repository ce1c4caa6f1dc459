import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from core.context import tenant_context
from core.errors import Conflict
from customers import rules, services
from customers.forms import RelationshipForm
from customers.models import Customer, CustomerRelationship
from tests.concurrency import run_concurrently
from tests.conftest import postgres_only
from tests.customers.factories import BusinessFactory, CustomerFactory, ShareholdingFactory


@pytest.fixture
def acme(in_tenant):
    return BusinessFactory(tenant=in_tenant, legal_name="Acme Ltd")


@pytest.fixture
def jane(in_tenant):
    return CustomerFactory(tenant=in_tenant, first_name="Jane")


def add(company, **data):
    """Add through the form and the service, as the API does; fails the test if refused."""
    form = RelationshipForm(data=data, customer=company)
    assert form.is_valid(), form.errors.as_data()
    return services.add_relationship(customer=company, **form.cleaned_data, by="user:test")


def refused(company, **data):
    """The field errors the form refuses `data` with; fails the test if it is accepted."""
    form = RelationshipForm(data=data, customer=company)
    assert not form.is_valid(), f"accepted: {data}"
    return form.errors


def days_from_today(days):
    return timezone.localdate() + datetime.timedelta(days=days)


def test_shareholder_added(acme, jane):
    rel = add(acme, type="shareholder", related_customer=jane.reference, ownership_percentage="60")
    assert rel.ownership_percentage == Decimal("60") and rel.related_customer == jane
    assert rel.history.latest().actor == "user:test"


def test_service_adds_a_relationship_without_any_form(acme, jane):
    """A command or another app passes plain data; the service checks every rule itself."""
    rel = services.add_relationship(
        customer=acme, related_customer=jane, type="shareholder", ownership_percentage="60"
    )
    assert CustomerRelationship.objects.get(pk=rel.pk).ownership_percentage == Decimal(60)
    bob = CustomerFactory(tenant=acme.tenant)
    with pytest.raises(ValidationError) as raised:
        services.add_relationship(
            customer=acme, related_customer=bob, type="shareholder", ownership_percentage=50
        )
    assert "exceed 100%" in raised.value.message_dict["ownership_percentage"][0]


def test_shareholder_needs_percentage(acme, jane):
    errors = refused(acme, type="shareholder", related_customer=jane.reference)
    assert "ownership_percentage" in errors


@pytest.mark.parametrize("pct", ["0", "-5", "100.0001", "250"])
def test_percentage_must_be_in_range(acme, jane, pct):
    errors = refused(
        acme, type="shareholder", related_customer=jane.reference, ownership_percentage=pct
    )
    assert "ownership_percentage" in errors


def test_hundred_percent_is_allowed(acme, jane):
    rel = add(acme, type="shareholder", related_customer=jane.reference, ownership_percentage="100")
    assert rel.ownership_percentage == 100


def test_director_has_no_percentage(acme, jane):
    errors = refused(
        acme, type="director", related_customer=jane.reference, ownership_percentage="10"
    )
    assert "ownership_percentage" in errors
    assert add(acme, type="director", related_customer=jane.reference).type == "director"


def test_direct_ownership_sums_to_at_most_100(acme, jane, in_tenant):
    bob = CustomerFactory(tenant=in_tenant)
    add(acme, type="shareholder", related_customer=jane.reference, ownership_percentage="70")
    errors = refused(
        acme, type="shareholder", related_customer=bob.reference, ownership_percentage="30.5"
    )
    assert errors["ownership_percentage"] == [
        f"70% of {acme.reference} is already held directly; adding 30.5% would exceed 100%."
    ]
    add(acme, type="shareholder", related_customer=bob.reference, ownership_percentage="30")


def test_ended_relationships_do_not_count_towards_100(acme, jane, in_tenant):
    rel = add(acme, type="shareholder", related_customer=jane.reference, ownership_percentage="90")
    services.end_relationship(relationship=rel)
    bob = CustomerFactory(tenant=in_tenant)
    add(acme, type="shareholder", related_customer=bob.reference, ownership_percentage="90")
    assert rules.stored_holdings(acme) == [rules.Holding(Decimal(90))]


def test_a_shareholding_starting_later_counts_from_its_start(acme, jane, in_tenant):
    """100 % held from today leaves no room for a shareholding starting next year, unless the
    first one ends before it starts."""
    bob = CustomerFactory(tenant=in_tenant)
    later = days_from_today(400)
    add(acme, type="shareholder", related_customer=jane.reference, ownership_percentage="100")
    errors = refused(
        acme,
        type="shareholder",
        related_customer=bob.reference,
        ownership_percentage="40",
        started_on=later.isoformat(),
    )
    assert f"already held directly on {later.isoformat()}" in errors["ownership_percentage"][0]
    services.update_relationship(
        relationship=CustomerRelationship.objects.get(related_customer=jane),
        ended_on=later,
    )
    rel = add(
        acme,
        type="shareholder",
        related_customer=bob.reference,
        ownership_percentage="40",
        started_on=later.isoformat(),
    )
    assert rel.started_on == later


def test_in_force_honours_start_and_end_dates(acme, in_tenant):
    people = CustomerFactory.create_batch(4, tenant=in_tenant)
    spans = [(None, None), (days_from_today(3), None), (None, days_from_today(0)), (None, None)]
    for person, (started_on, ended_on) in zip(people, spans, strict=True):
        ShareholdingFactory(
            customer=acme,
            related_customer=person,
            ownership_percentage=10,
            started_on=started_on,
            ended_on=ended_on,
        )
    services.soft_delete_customer(customer=people[3])

    def holders(**kwargs):
        return {r.related_customer for r in rules.relationships_in_force(**kwargs)}

    assert holders() == {people[0]}  # not yet started, ended today, deleted: not in force
    assert holders(include_future=True) == {people[0], people[1]}
    assert holders(on=days_from_today(5)) == {people[0], people[1]}
    assert holders(on=days_from_today(-5)) == {people[0], people[2]}


def test_no_self_relationship(acme):
    errors = refused(acme, type="director", related_customer=acme.reference)
    assert "itself" in errors["related_customer"][0]


def test_no_ownership_cycle(in_tenant, acme):
    holding = BusinessFactory(tenant=in_tenant)
    sub = BusinessFactory(tenant=in_tenant)
    ShareholdingFactory(customer=acme, related_customer=holding)  # holding owns acme
    ShareholdingFactory(customer=holding, related_customer=sub)  # sub owns holding
    errors = refused(
        sub, type="shareholder", related_customer=acme.reference, ownership_percentage="10"
    )  # acme owning sub would close the loop
    assert "circle" in errors["related_customer"][0]


def test_individual_cannot_have_shareholders(jane, in_tenant):
    bob = CustomerFactory(tenant=in_tenant)
    assert "type" in refused(
        jane, type="shareholder", related_customer=bob.reference, ownership_percentage="10"
    )


def test_spouse_between_individuals(jane, in_tenant):
    bob = CustomerFactory(tenant=in_tenant)
    assert add(jane, type="spouse", related_customer=bob.reference).type == "spouse"


def test_end_before_start_is_refused(acme, jane):
    errors = refused(
        acme,
        type="director",
        related_customer=jane.reference,
        started_on="2026-01-10",
        ended_on="2026-01-01",
    )
    assert "ended_on" in errors


def test_same_role_twice_is_refused(acme, jane):
    add(acme, type="director", related_customer=jane.reference)
    errors = refused(acme, type="director", related_customer=jane.reference)
    assert "already holds" in errors["related_customer"][0]


def test_related_customer_of_another_tenant_is_not_found(acme, other_tenant):
    with tenant_context(other_tenant):
        foreign = CustomerFactory.create_batch(3, tenant=other_tenant)[-1]
    assert foreign.reference == "CUS-000003"  # a reference unused in our tenant
    errors = refused(acme, type="director", related_customer=foreign.reference)
    assert errors["related_customer"] == ["No customer with this reference."]


def test_service_rechecks_rules_under_lock(acme, jane, in_tenant):
    """A form validated before another addition cannot push the total past 100 %."""
    bob = CustomerFactory(tenant=in_tenant)
    forms = [
        RelationshipForm(
            data={"type": "shareholder", "related_customer": who, "ownership_percentage": "60"},
            customer=acme,
        )
        for who in (jane.reference, bob.reference)
    ]
    assert all(form.is_valid() for form in forms)
    services.add_relationship(customer=acme, **forms[0].cleaned_data)
    with pytest.raises(ValidationError):
        services.add_relationship(customer=acme, **forms[1].cleaned_data)
    assert CustomerRelationship.objects.filter(customer=acme).count() == 1


def test_end_relationship_soft_deletes_with_end_date(acme, jane):
    rel = add(acme, type="director", related_customer=jane.reference)
    ended = services.end_relationship(relationship=rel, by="user:test")
    assert ended.is_deleted and ended.ended_on is not None
    assert ended.history.latest().action == "soft_delete"
    with pytest.raises(Conflict):
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
    with pytest.raises(ValidationError, match="No customer with this reference"):
        services.add_relationship(customer=acme, related_customer=foreign, type="director")
    assert not CustomerRelationship.all_objects.exists()


@pytest.mark.parametrize("closed_party", ["company", "holder"])
def test_a_closed_customer_gets_no_new_relationships(acme, jane, closed_party):
    services.change_status(customer=acme if closed_party == "company" else jane, status="closed")
    with pytest.raises(Conflict, match="is closed"):
        services.add_relationship(customer=acme, related_customer=jane, type="director")
    assert not CustomerRelationship.all_objects.exists()


@pytest.mark.parametrize("deleted_party", ["company", "holder"])
def test_a_deleted_customer_gets_no_relationships_even_from_a_stale_copy(acme, jane, deleted_party):
    """The caller read both customers before the delete; the service re-reads them locked."""
    services.soft_delete_customer(customer=acme if deleted_party == "company" else jane)
    with pytest.raises(Conflict, match="is deleted"):
        services.add_relationship(customer=acme, related_customer=jane, type="director")
    assert not CustomerRelationship.all_objects.exists()


def test_ending_a_relationship_that_never_started_cancels_it(acme, jane):
    rel = add(acme, type="director", related_customer=jane.reference, started_on="2099-01-01")
    cancelled = services.end_relationship(relationship=rel)
    assert cancelled.is_deleted and cancelled.ended_on is None


def test_relationship_of_a_deleted_customer_cannot_be_restored(acme, jane):
    rel = add(acme, type="director", related_customer=jane.reference, started_on="2099-01-01")
    services.soft_delete_customer(customer=jane)
    with pytest.raises(Conflict, match="is deleted"):
        services.restore_relationship(relationship=rel)
    assert CustomerRelationship.objects.count() == 0


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_opposite_shareholdings_cannot_form_a_cycle(tenant):
    with tenant_context(tenant):
        a, b = BusinessFactory(tenant=tenant), BusinessFactory(tenant=tenant)

        def own(company, owner):
            return lambda: services.add_relationship(
                customer=company,
                related_customer=owner,
                type="shareholder",
                ownership_percentage=10,
            )

        outcomes = run_concurrently(own(a, b), own(b, a))
    assert sorted(type(o).__name__ for o in outcomes) == ["CustomerRelationship", "ValidationError"]


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_no_live_relationship_points_at_a_customer_deleted_meanwhile(tenant):
    """Relationships to and from Jane are added while she is deleted: each addition either
    lands before the delete (which then ends it) or is refused; none survives her."""
    with tenant_context(tenant):
        jane = CustomerFactory(tenant=tenant)
        companies = BusinessFactory.create_batch(8, tenant=tenant)
        people = CustomerFactory.create_batch(8, tenant=tenant)
        additions = [
            lambda c=c: services.add_relationship(
                customer=c, related_customer=jane, type="director"
            )
            for c in companies
        ] + [
            lambda p=p: services.add_relationship(
                customer=jane, related_customer=p, type="guarantor"
            )
            for p in people
        ]
        middle = len(additions) // 2
        calls = [*additions[:middle], lambda: services.soft_delete_customer(customer=jane)]
        outcomes = run_concurrently(*calls, *additions[middle:])
        unexpected = [
            o for o in outcomes if isinstance(o, Exception) and not isinstance(o, Conflict)
        ]
        assert not unexpected
        assert Customer.deleted_objects.filter(pk=jane.pk).exists()
        dangling = CustomerRelationship.objects.filter(customer=jane) | (
            CustomerRelationship.objects.filter(related_customer=jane)
        )
        assert not dangling.exists()
        assert len([o for o in outcomes if isinstance(o, CustomerRelationship)]) == (
            CustomerRelationship.deleted_objects.count()
        )
