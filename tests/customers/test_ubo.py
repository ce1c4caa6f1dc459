"""Ultimate beneficial owners: exact figures through any depth, diamonds, cycles, dates."""

import datetime
import itertools
from decimal import Decimal
from fractions import Fraction

import pytest
from django.utils import timezone

from core.context import system_scope, tenant_context
from customers import ownership
from customers.models import CustomerRelationship
from customers.ownership import (
    MAX_PATHS,
    beneficial_owners,
    ownership_edges,
    would_create_cycle,
)
from tests.customers.factories import BusinessFactory, CustomerFactory, ShareholdingFactory

pytestmark = pytest.mark.django_db

# What the beneficial-owners endpoint and the admin change page of a business may cost, however
# deep and wide its ownership structure: the edges are one query. API: key, its last use, the
# customer, the edges. Admin: session, user, membership, tenant, the customer, permissions (2),
# the edges, content type, the relationships inline and its choices (2).
API_QUERY_BUDGET = 4
ADMIN_QUERY_BUDGET = 13  # the page also lists the roles the customer holds elsewhere

TODAY = timezone.localdate()
YESTERDAY = TODAY - datetime.timedelta(days=1)
TOMORROW = TODAY + datetime.timedelta(days=1)


def person(tenant, ref, first, last):
    return CustomerFactory(tenant=tenant, reference=ref, first_name=first, last_name=last)


def company(tenant, ref):
    return BusinessFactory(tenant=tenant, reference=ref, legal_name=f"{ref.title()} Ltd")


def owns(owner, owned, percent, **kwargs):
    return ShareholdingFactory(
        customer=owned, related_customer=owner, ownership_percentage=Decimal(percent), **kwargs
    )


@pytest.fixture
def group(in_tenant):
    """Jane 60 % HOLDA, 40 % HOLDB; Carl 3.3333 % HOLDB; HOLDA and HOLDB 50 % each of MID;
    MID 80 % of TARGET; Bob 20 % of TARGET directly.

    Jane: 0.6 x 0.5 x 0.8 + 0.4 x 0.5 x 0.8 = 40 %; Bob 20 %; Carl 0.033333 x 0.5 x 0.8 = 1.33332 %.
    """
    t = in_tenant
    g = {
        "jane": person(t, "JANE", "Jane", "Okafor"),
        "bob": person(t, "BOB", "Bob", "Lindqvist"),
        "carl": person(t, "CARL", "Carl", "Moreau"),
        "hold_a": company(t, "HOLDA"),
        "hold_b": company(t, "HOLDB"),
        "mid": company(t, "MID"),
        "target": company(t, "TARGET"),
    }
    owns(g["jane"], g["hold_a"], "60")
    owns(g["jane"], g["hold_b"], "40")
    owns(g["carl"], g["hold_b"], "3.3333")
    owns(g["hold_a"], g["mid"], "50")
    owns(g["hold_b"], g["mid"], "50")
    owns(g["mid"], g["target"], "80")
    owns(g["bob"], g["target"], "20")
    return g


def figures(owners):
    return [(o.customer.reference, o.effective_ownership) for o in owners]


def test_diamond_exact_figures_and_paths(group):
    owners = beneficial_owners(company=group["target"], threshold=Decimal("0.01"))

    assert figures(owners) == [
        ("JANE", Decimal("40")),
        ("BOB", Decimal("20")),
        ("CARL", Decimal("1.33332")),
    ]
    jane, bob, carl = owners
    assert jane.customer == group["jane"]
    assert jane.paths == [
        ["JANE", "HOLDA", "MID", "TARGET"],
        ["JANE", "HOLDB", "MID", "TARGET"],
    ]
    assert bob.paths == [["BOB", "TARGET"]]
    assert carl.paths == [["CARL", "HOLDB", "MID", "TARGET"]]
    # Exact and tidy: no float noise, no trailing zeros from the 4-decimal column.
    assert str(jane.effective_ownership) == "40"
    assert str(carl.effective_ownership) == "1.33332"


def test_product_is_exact_not_rounded(in_tenant):
    jane = person(in_tenant, "JANE", "Jane", "Okafor")
    hold, target = company(in_tenant, "HOLD"), company(in_tenant, "TARGET")
    owns(jane, hold, "75")
    owns(hold, target, "50")
    owns(person(in_tenant, "ANN", "Ann", "Ito"), target, "33.3333")

    owners = beneficial_owners(company=target, threshold=0)

    assert figures(owners) == [("JANE", Decimal("37.5")), ("ANN", Decimal("33.3333"))]
    assert str(owners[0].effective_ownership) == "37.5"


def test_threshold_default_and_explicit(group, settings):
    assert figures(beneficial_owners(company=group["target"])) == [("JANE", Decimal("40"))]
    assert [
        o.customer.reference
        for o in beneficial_owners(company=group["target"], threshold=Decimal("20"))
    ] == ["JANE", "BOB"]  # inclusive: exactly 20 % qualifies
    assert [
        o.customer.reference for o in beneficial_owners(company=group["target"], threshold="0.01")
    ] == ["JANE", "BOB", "CARL"]

    settings.UBO_THRESHOLD_PERCENT = "10"
    assert [o.customer.reference for o in beneficial_owners(company=group["target"])] == [
        "JANE",
        "BOB",
    ]


def test_companies_are_never_owners(group):
    refs = {o.customer.reference for o in beneficial_owners(company=group["target"], threshold=0)}
    assert refs == {"JANE", "BOB", "CARL"}
    # A company owning a company that has no individual owners adds nobody.
    shell = company(group["target"].tenant, "SHELL")
    owns(shell, group["target"], "5")
    refs = {o.customer.reference for o in beneficial_owners(company=group["target"], threshold=0)}
    assert refs == {"JANE", "BOB", "CARL"}


def test_ties_sorted_by_reference(in_tenant):
    target = company(in_tenant, "TARGET")
    for ref, first in (("ZOE", "Zoe"), ("ADA", "Ada"), ("MIA", "Mia")):
        owns(person(in_tenant, ref, first, "Kowalski"), target, "30")

    assert [o.customer.reference for o in beneficial_owners(company=target)] == [
        "ADA",
        "MIA",
        "ZOE",
    ]


def test_ended_future_and_soft_deleted_edges_are_ignored(group):
    tenant = group["target"].tenant
    eve = person(tenant, "EVE", "Eve", "Sato")
    dan = person(tenant, "DAN", "Dan", "Abara")
    fay = person(tenant, "FAY", "Fay", "Novak")
    owns(
        eve,
        group["target"],
        "30",
        started_on=TODAY - datetime.timedelta(days=30),
        ended_on=YESTERDAY,
    )
    owns(eve, group["hold_a"], "30", ended_on=TODAY)  # ends today: no longer in force today
    owns(dan, group["target"], "30", started_on=TOMORROW)
    deleted = owns(fay, group["mid"], "50")
    deleted.soft_delete()
    owns(fay, group["target"], "30", ended_on=TOMORROW)  # still in force today

    owners = beneficial_owners(company=group["target"])

    assert figures(owners) == [("JANE", Decimal("40")), ("FAY", Decimal("30"))]
    assert deleted.pk not in {e.pk for e in ownership_edges(company=group["target"])}


def test_as_of_another_date(group):
    tenant = group["target"].tenant
    eve = person(tenant, "EVE", "Eve", "Sato")
    dan = person(tenant, "DAN", "Dan", "Abara")
    owns(eve, group["target"], "30", ended_on=YESTERDAY)
    owns(dan, group["target"], "30", started_on=TOMORROW)

    past = beneficial_owners(company=group["target"], on=YESTERDAY - datetime.timedelta(days=1))
    future = beneficial_owners(company=group["target"], on=TOMORROW)

    assert figures(past) == [("JANE", Decimal("40")), ("EVE", Decimal("30"))]
    assert figures(future) == [("JANE", Decimal("40")), ("DAN", Decimal("30"))]


def test_cycle_in_data_terminates_with_correct_figures(group):
    # Loops the service layer forbids, written directly: MID owns 10 % of HOLDA (HOLDA -> MID ->
    # HOLDA) and TARGET owns 10 % of HOLDB (TARGET -> HOLDB -> MID -> TARGET).
    tenant = group["target"].tenant
    for owned, owner in ((group["hold_a"], group["mid"]), (group["hold_b"], group["target"])):
        CustomerRelationship.objects.create(
            tenant=tenant,
            customer=owned,
            related_customer=owner,
            type=CustomerRelationship.Type.SHAREHOLDER,
            ownership_percentage=Decimal("10"),
        )

    owners = beneficial_owners(company=group["target"], threshold=0)

    assert figures(owners) == [
        ("JANE", Decimal("40")),
        ("BOB", Decimal("20")),
        ("CARL", Decimal("1.33332")),
    ]
    for owner in owners:
        for path in owner.paths:
            assert len(path) == len(set(path))
    # From inside the loop, too.
    assert figures(beneficial_owners(company=group["mid"], threshold=0)) == [
        ("JANE", Decimal("50")),
        ("CARL", Decimal("1.66665")),
        ("BOB", Decimal("1")),  # BOB -> TARGET -> HOLDB -> MID: 0.2 x 0.1 x 0.5
    ]


def test_no_depth_limit(in_tenant):
    # A chain of 60 companies, far deeper than real structures: the person at the top is found,
    # with the exact product and the whole path.
    chain = [company(in_tenant, f"C{i:02d}") for i in range(60)]
    for owned, owner in itertools.pairwise(chain):
        owns(owner, owned, "99")
    top = person(in_tenant, "TOP", "Tia", "Top")
    owns(top, chain[-1], "50")

    (owner,) = beneficial_owners(company=chain[0])

    assert owner.customer == top
    # Exact: compared as fractions, not to a figure rounded to some precision.
    assert Fraction(owner.effective_ownership) == Fraction(1, 2) * Fraction(99, 100) ** 59 * 100
    assert owner.paths == [["TOP", *(c.reference for c in reversed(chain))]]
    assert (owner.path_count, owner.paths_truncated) == (1, False)


def test_would_create_cycle(group):
    tenant = group["target"].tenant
    newco = company(tenant, "NEWCO")
    assert would_create_cycle(company=group["target"], owner=group["target"]) is True
    # TARGET holding HOLDA would loop: HOLDA already owns TARGET through MID.
    assert would_create_cycle(company=group["hold_a"], owner=group["target"]) is True
    assert would_create_cycle(company=group["mid"], owner=group["target"]) is True
    # Direction matters, and existing or new ownership further up is no loop.
    assert would_create_cycle(company=group["target"], owner=group["hold_a"]) is False
    assert would_create_cycle(company=group["mid"], owner=group["hold_a"]) is False
    assert would_create_cycle(company=group["target"], owner=newco) is False
    assert would_create_cycle(company=newco, owner=group["target"]) is False
    assert would_create_cycle(company=group["target"], owner=group["bob"]) is False


def test_would_create_cycle_ignores_ended_and_deleted_but_not_future_edges(in_tenant):
    a, b, c = (company(in_tenant, ref) for ref in ("A", "B", "C"))
    owns(a, b, "50", ended_on=YESTERDAY)  # A owned B until yesterday
    owns(b, c, "50").soft_delete()  # B owned C, since deleted
    # Had those edges been in force, B holding A and C holding B would close loops.
    assert would_create_cycle(company=a, owner=b) is False
    assert would_create_cycle(company=b, owner=c) is False

    owns(c, a, "50", started_on=TOMORROW)  # C will own A
    assert would_create_cycle(company=a, owner=c) is False  # same direction: no loop
    assert would_create_cycle(company=c, owner=a) is True  # A holding C would close C -> A


def test_other_tenants_edges_never_count(group, other_tenant):
    tenant = group["target"].tenant
    # The same structure elsewhere, and rows of the other tenant pointing at our companies
    # (corrupt data the services never write): none of it counts.
    intruder = CustomerFactory(tenant=other_tenant, reference="INTRUDER")
    their_target = BusinessFactory(tenant=other_tenant, reference="TARGET")
    ShareholdingFactory(
        customer=their_target, related_customer=intruder, ownership_percentage=Decimal("90")
    )
    edges = [(owned, intruder) for owned in (group["target"], group["mid"])]
    edges.append((group["hold_a"], group["target"]))
    with system_scope():  # only system scope may write rows across tenants
        for owned, owner in edges:
            CustomerRelationship.objects.create(
                tenant=other_tenant,
                customer=owned,
                related_customer=owner,
                type=CustomerRelationship.Type.SHAREHOLDER,
                ownership_percentage=Decimal("90"),
            )

    owners = beneficial_owners(company=group["target"], threshold=0)

    assert figures(owners) == [
        ("JANE", Decimal("40")),
        ("BOB", Decimal("20")),
        ("CARL", Decimal("1.33332")),
    ]
    assert {e.tenant_id for e in ownership_edges(company=group["target"])} == {tenant.pk}
    assert would_create_cycle(company=group["target"], owner=group["hold_a"]) is False


def build_layers(tenant, prefix, levels, width):
    """`levels` layers of `width` companies above a target, each company owned by every company
    of the layer above (a lattice of diamonds) and the top layer by people."""
    target = company(tenant, f"{prefix}-T")
    below = [target]
    for level in range(levels):
        layer = [company(tenant, f"{prefix}-{level}-{i}") for i in range(width)]
        percent = Decimal(100) / width
        for owned in below:
            for owner in layer:
                owns(owner, owned, percent.quantize(Decimal("0.0001")))
        below = layer
    for i, owned in enumerate(below):
        owns(person(tenant, f"{prefix}-P{i}", "Pat", f"Owner{i}"), owned, "100")
    return target


def all_paths(target, owner_ref, edges):
    """Every path from `owner_ref` down to `target`, listed by brute force (small graphs only)."""
    if owner_ref == target:
        return [[target]]
    return sorted(
        [owner_ref, *rest]
        for owner, owned in edges
        if owner == owner_ref
        for rest in all_paths(target, owned, edges)
    )


@pytest.mark.parametrize(("levels", "width"), [(3, 2), (6, 4)])
def test_query_count_does_not_grow_with_depth(
    in_tenant, django_assert_max_num_queries, levels, width
):
    target = build_layers(in_tenant, "Q", levels, width)

    with django_assert_max_num_queries(1):
        owners = beneficial_owners(company=target, threshold=0)
    with django_assert_max_num_queries(1):
        assert would_create_cycle(company=target, owner=owners[0].customer) is False

    assert len(owners) == width
    expected_paths = width ** (levels - 1)
    assert all(o.path_count == expected_paths for o in owners)
    assert all(len(o.paths) == min(expected_paths, MAX_PATHS) for o in owners)
    assert all(o.paths_truncated == (expected_paths > MAX_PATHS) for o in owners)
    assert all(len(path) == levels + 2 for o in owners for path in o.paths)


def test_listed_paths_are_the_first_in_order(in_tenant, monkeypatch):
    """Cut short, the list holds the first paths in reference order, as if all were sorted."""
    target = build_layers(in_tenant, "L", 4, 2)
    edges = [
        (e.related_customer.reference, e.customer.reference)
        for e in ownership_edges(company=target)
    ]
    monkeypatch.setattr(ownership, "MAX_PATHS", 5)

    owners = beneficial_owners(company=target)

    for owner in owners:
        every_path = all_paths(target.reference, owner.customer.reference, edges)
        assert len(every_path) == owner.path_count == 8
        assert owner.paths == every_path[:5]
        assert owner.paths_truncated


@pytest.mark.parametrize("levels", [40, 60])
def test_deep_layers_exact_and_linear(in_tenant, django_assert_max_num_queries, levels):
    """`levels` layers of two companies, each owning half of both below: 2^(levels - 1) paths
    per owner, far too many to walk. Each owner holds exactly 50 %, counted once per company;
    the paths listed stop at the budget."""
    target = build_layers(in_tenant, "X", levels, 2)

    with django_assert_max_num_queries(1):
        owners = beneficial_owners(company=target)

    assert [o.effective_ownership for o in owners] == [Decimal(50), Decimal(50)]
    assert [str(o.effective_ownership) for o in owners] == ["50", "50"]
    for owner in owners:
        assert owner.path_count == 2 ** (levels - 1)
        assert owner.paths_truncated and len(owner.paths) == MAX_PATHS
        assert owner.paths == sorted(owner.paths)
        assert all(len(path) == levels + 2 for path in owner.paths)
        assert all(path[0] == owner.customer.reference for path in owner.paths)
        assert all(path[-1] == target.reference for path in owner.paths)


def test_deep_layers_through_the_api(api, tenant, django_assert_max_num_queries):
    with tenant_context(tenant):
        target = build_layers(tenant, "API", 40, 2)

    with django_assert_max_num_queries(API_QUERY_BUDGET):
        response = api.get(f"/api/v1/customers/{target.reference}/beneficial-owners")

    assert response.status_code == 200
    owners = response.json()["data"]
    assert [o["effective_ownership"] for o in owners] == ["50", "50"]
    assert all(o["paths_truncated"] and len(o["paths"]) == MAX_PATHS for o in owners)


def test_deep_layers_on_the_admin_change_page(staff_client, tenant, django_assert_max_num_queries):
    with tenant_context(tenant):
        target = build_layers(tenant, "ADM", 40, 2)

    with django_assert_max_num_queries(ADMIN_QUERY_BUDGET):
        response = staff_client.get(f"/admin/customers/customer/{target.pk}/change/")

    assert response.status_code == 200
    html = response.content.decode()
    panel = html[html.index("field-beneficial_owners_panel") :]
    panel = panel[: panel.index("</table>")]  # the UBO table only, not the inline rows below
    assert panel.count("<td>50 %</td>") == 2


def test_beneficial_owners_of_company_without_shareholders(in_tenant):
    lonely = company(in_tenant, "LONELY")
    assert beneficial_owners(company=lonely) == []
    assert ownership_edges(company=lonely) == []
