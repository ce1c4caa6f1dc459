import pytest
from django.db import connection

from core.context import tenant_context
from core.references import next_reference
from customers.selectors import search_customers
from tests.concurrency import run_concurrently
from tests.conftest import postgres_only
from tests.customers.factories import BusinessFactory, CustomerFactory


@pytest.fixture
def people(in_tenant, other_tenant):
    jonathan = CustomerFactory(
        tenant=in_tenant,
        first_name="Jonathan",
        last_name="Whitfield",
        email="jw@example.com",
        phone="+447700900123",
        national_id="QQ123456A",
    )
    maria = CustomerFactory(
        tenant=in_tenant, first_name="Maria", last_name="Gonzalez", email="maria@example.com"
    )
    acme = BusinessFactory(tenant=in_tenant, legal_name="Whitfield Holdings Ltd")
    with tenant_context(other_tenant):
        CustomerFactory(
            tenant=other_tenant,
            first_name="Jonathan",
            last_name="Whitfield",
            email="other@example.com",
        )
    return jonathan, maria, acme


def names(queryset):
    return [c.display_name for c in queryset.order_by("-rank", "-id")]


def test_name_matches_and_other_tenant_never_returned(people):
    found = names(search_customers(q="whitfield"))
    assert set(found) == {"Jonathan Whitfield", "Whitfield Holdings Ltd"}


@pytest.mark.parametrize("q", ["CUS-000001", "jw@example.com", "+447700900123"])
def test_exact_identifiers_rank_first(people, q):
    assert names(search_customers(q=q))[0] == "Jonathan Whitfield"


def test_national_id_only_by_exact_match(people):
    assert names(search_customers(q="QQ123456A")) == ["Jonathan Whitfield"]
    assert names(search_customers(q="QQ1234")) == []


def test_filters(people, in_tenant):
    jonathan, maria, acme = people
    assert set(search_customers(type="business")) == {acme}
    assert set(search_customers(status="active")) == set()
    assert set(search_customers(kyc_status="pending", type="individual")) == {jonathan, maria}


@postgres_only
def test_misspelt_name_still_found_on_postgresql(people):
    assert "Jonathan Whitfield" in names(search_customers(q="Jonatan Witfield"))
    assert names(search_customers(q="gonzales"))[0] == "Maria Gonzalez"


def test_search_uses_trigram_index_on_postgresql(db):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL index")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'customer_tenant_search_trgm'"
        )
        (definition,) = cursor.fetchone()
    assert "gin" in definition and "tenant_id" in definition and "gin_trgm_ops" in definition


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_references_are_unique_under_concurrent_creation(tenant):
    def draw():
        with tenant_context(tenant):
            return [next_reference(tenant=tenant, prefix="CUS-") for _ in range(5)]

    drawn = [ref for batch in run_concurrently(*[draw] * 6) for ref in batch]
    assert len(drawn) == len(set(drawn)) == 30
