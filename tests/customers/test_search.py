import json

import pytest
from django.db import connection

from core.context import tenant_context
from core.references import next_reference
from customers.models import Customer
from customers.selectors import SEARCH_ORDERING, ranked_search, search_customers
from tests.concurrency import run_concurrently
from tests.conftest import analyze_as_owner, postgres_only
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


def test_names_containing_the_text_rank_by_how_much_of_the_name_it_is(people, in_tenant):
    whit = CustomerFactory(tenant=in_tenant, first_name="Al", last_name="Whitfield")
    # "whitfield" is more of "al whitfield" than of "jonathan whitfield", and more of that than
    # of "whitfield holdings ltd"; a reference or email that contains it ranks below any name.
    by_email = CustomerFactory(
        tenant=in_tenant, first_name="Zed", last_name="Ray", email="whitfield.fan@example.com"
    )
    ranked = list(search_customers(q="Whitfield").order_by(*SEARCH_ORDERING))
    jonathan, _, acme = people
    assert ranked == [whit, jonathan, acme, by_email]
    assert [c.rank for c in ranked][-1] == 0.5
    assert all(0.5 < c.rank < 1 for c in ranked[:-1])


def test_exact_reference_ranks_above_a_name_containing_it(people, in_tenant):
    jonathan, _, _ = people
    named = BusinessFactory(tenant=in_tenant, legal_name=f"{jonathan.reference} Trading Ltd")
    ranked = list(search_customers(q=jonathan.reference.lower()).order_by(*SEARCH_ORDERING))
    assert ranked[:2] == [jonathan, named]
    assert ranked[0].rank == 1.0


def test_phone_and_national_id_only_in_full(people):
    jonathan, _, _ = people
    assert list(search_customers(q="+44 7700 900123")) == [jonathan]  # as people type it
    assert list(search_customers(q="07700 900123")) == [jonathan]  # national format (GB)
    assert list(search_customers(q="900123")) == []
    assert list(search_customers(q="qq123456a")) == []  # a national id is matched as stored


def test_a_complete_email_finds_that_address_only(people, in_tenant):
    jonathan, _, _ = people
    longer = CustomerFactory(tenant=in_tenant, email="ajw@example.com")
    assert list(search_customers(q="JW@example.com")) == [jonathan]
    assert set(search_customers(q="jw@example")) == {jonathan, longer}  # part of an address


def test_several_words_find_the_name_holding_them(people):
    _, maria, acme = people
    assert search_customers(q="Whitfield Holdings").order_by(*SEARCH_ORDERING).first() == acme
    assert list(search_customers(q=" maria  ")) == [maria]


def test_ranked_search_applies_to_a_given_queryset(people):
    """The admin hands in its filtered changelist queryset."""
    _, _, acme = people
    businesses = Customer.objects.filter(type=Customer.Type.BUSINESS)
    assert list(ranked_search(businesses, "whitfield")) == [acme]
    assert set(ranked_search(businesses, "  ")) == {acme}


def test_text_with_like_wildcards_is_taken_literally(people, in_tenant):
    percent = BusinessFactory(tenant=in_tenant, legal_name="100% Whitfield_Co Ltd")
    assert list(search_customers(q="100%")) == [percent]
    assert list(search_customers(q="d_c")) == [percent]
    assert list(search_customers(q="h%d")) == []


@pytest.fixture
def surnames(in_tenant):
    """Jansen, Janssen, Kowalski, Smith, Lindqvist: names to misspell."""
    return {
        last: CustomerFactory(tenant=in_tenant, first_name=first, last_name=last)
        for first, last in [
            ("Piet", "Jansen"),
            ("Anna", "Janssen"),
            ("Jan", "Kowalski"),
            ("John", "Smith"),
            ("Bob", "Lindqvist"),
        ]
    }


@postgres_only
def test_misspelt_name_still_found_on_postgresql(people):
    assert "Jonathan Whitfield" in names(search_customers(q="Jonatan Witfield"))
    assert names(search_customers(q="gonzales"))[0] == "Maria Gonzalez"


@postgres_only
@pytest.mark.parametrize(
    ("typed", "found"),
    [
        ("Jansn", "Jansen"),  # a missing letter
        ("Kowalsky", "Kowalski"),  # a wrong letter
        ("Kowalksi", "Kowalski"),  # two letters swapped in a long name
        ("Lindqvsit", "Lindqvist"),
        ("smith john", "Smith"),  # words in another order
    ],
)
def test_misspellings_and_transpositions_found_on_postgresql(surnames, typed, found):
    ranked = list(search_customers(q=typed).order_by(*SEARCH_ORDERING))
    assert ranked[0] == surnames[found]
    assert ranked[0].rank <= 0.5  # similar, not contained


@postgres_only
def test_exact_name_ranks_above_a_similar_one(surnames):
    assert list(search_customers(q="jansen").order_by(*SEARCH_ORDERING))[:2] == [
        surnames["Jansen"],
        surnames["Janssen"],
    ]


@postgres_only
@pytest.mark.parametrize("typed", ["Smtih", "Smyth", "Jamsen"])
def test_a_slip_in_the_middle_of_a_short_name_is_not_found(surnames, typed):
    """What docs/api.md says search cannot do; if search learns it, update the docs."""
    assert list(search_customers(q=typed)) == []


def test_sqlite_matches_contained_text_only(surnames):
    if connection.vendor == "postgresql":
        pytest.skip("the SQLite fallback")
    assert list(search_customers(q="jans")) == [surnames["Janssen"], surnames["Jansen"]]
    assert list(search_customers(q="Jansn")) == []
    assert list(search_customers(q="Kowalksi")) == []


@postgres_only
def test_search_uses_trigram_index_on_postgresql(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'customer_tenant_search_trgm'"
        )
        (definition,) = cursor.fetchone()
    assert "gin" in definition and "tenant_id" in definition and "gin_trgm_ops" in definition


@postgres_only
def test_search_plan_is_kept_stable_on_postgresql(db):
    """Migration 0003: the planner knows what a similarity costs, so it never prefers reading
    every row; the index has no pending list for searches to read."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT proname, procost FROM pg_proc WHERE proname IN "
            "('word_similarity_commutator_op', 'word_similarity')"
        )
        assert dict(cursor.fetchall()) == {
            "word_similarity_commutator_op": 100,
            "word_similarity": 100,
        }
        cursor.execute(
            "SELECT reloptions FROM pg_class WHERE relname = 'customer_tenant_search_trgm'"
        )
        assert cursor.fetchone() == (["fastupdate=off"],)


@pytest.fixture
def crowd(in_tenant):
    """3,000 customers sharing 60 surnames and 20 first names, with fresh statistics."""
    firsts = [f"First{chr(97 + i)}" for i in range(20)]
    lasts = ["Kowalski", *(f"Surname{chr(97 + i % 26)}{chr(97 + i // 26)}" for i in range(59))]
    Customer.objects.bulk_create(
        Customer(
            tenant=in_tenant,
            reference=f"CRD-{n:06d}",
            type=Customer.Type.INDIVIDUAL,
            first_name=firsts[n % 20],
            last_name=lasts[n % 60],
            search_name=f"{firsts[n % 20]} {lasts[n % 60]}".lower(),
            email=f"c{n}@crowd.example",
        )
        for n in range(3000)
    )
    analyze_as_owner("customers_customer")


@postgres_only
@pytest.mark.parametrize("q", ["Kowalski", "Kowalsky"])
def test_search_reads_only_candidate_rows_and_checks_each_once(crowd, q):
    """The plan is a bitmap scan of the trigram index, never a read of every row, and its
    recheck is the whole condition: the costly similarity is not evaluated again as a filter."""
    queryset = search_customers(q=q).order_by(*SEARCH_ORDERING)[:50]
    assert len(list(queryset)) == 50
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        (plan,) = cursor.fetchone()
    if isinstance(plan, str):
        plan = json.loads(plan)
    nodes = list(_nodes(plan[0]["Plan"]))
    assert not [n for n in nodes if n["Node Type"] == "Seq Scan"]
    assert any(n.get("Index Name") == "customer_tenant_search_trgm" for n in nodes)
    (heap,) = [n for n in nodes if n["Node Type"] == "Bitmap Heap Scan"]
    assert "%>" in heap["Recheck Cond"] and "%>" not in heap.get("Filter", "")


def _nodes(node):
    yield node
    for child in node.get("Plans", ()):
        yield from _nodes(child)


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_references_are_unique_under_concurrent_creation(tenant):
    def draw():
        with tenant_context(tenant):
            return [next_reference(tenant=tenant, prefix="CUS-") for _ in range(5)]

    drawn = [ref for batch in run_concurrently(*[draw] * 6) for ref in batch]
    assert len(drawn) == len(set(drawn)) == 30
