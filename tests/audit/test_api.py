"""GET /audit-events with every filter and keyset pages; customer history and ?as_of=."""

import datetime

import pytest
from django.utils import timezone

from audit.services import record_event
from core.context import tenant_context
from customers.models import Customer
from tests.audit.helpers import deposits_at
from tests.conftest import make_api_client
from tests.customers.factories import BusinessFactory, CustomerFactory, ShareholdingFactory
from tests.lending.factories import make_loan

pytestmark = pytest.mark.django_db

EVENTS = "/api/v1/audit-events"
DAY = datetime.timedelta(days=1)


@pytest.fixture
def log(tenant, other_tenant):
    """Six events of `tenant` at known times, one of another bank."""
    now = timezone.now()
    with tenant_context(tenant):
        for day, (action, kind, ident, actor, changes) in enumerate(
            [
                ("create", "customers.customer", "CUS-1", "user:hana", {"first_name": [None, "A"]}),
                ("update", "customers.customer", "CUS-1", "partner_key:k1", {}),
                ("create", "customers.customer", "CUS-2", "user:hana", {}),
                ("deposit", "accounts.account", "ACC-1", "system:post", {}),
                ("login", "auth.user", "hana", "user:hana", {}),
                ("update", "customers.customer", "CUS-2", "partner_key:k1", {}),
            ]
        ):
            record_event(
                action=action,
                resource_type=kind,
                resource_id=ident,
                actor=actor,
                changes=changes,
                occurred_at=now - (10 - day) * DAY,
            )
    with tenant_context(other_tenant):
        record_event(action="create", resource_type="customers.customer", resource_id="CUS-1")
    return now


def ids_of(response):
    assert response.status_code == 200, response.content
    return [(e["action"], e["resource_id"]) for e in response.json()["data"]]


def test_lists_only_own_tenant_newest_first_with_contract_fields(api, log, tenant):
    body = api.get(EVENTS).json()
    # Besides the fixture's events: the tenant's creation and the test key's issue.
    own = [e for e in body["data"] if not e["resource_type"].startswith("core.")]
    assert [(e["action"], e["resource_id"]) for e in own][:2] == [
        ("update", "CUS-2"),
        ("login", "hana"),
    ]
    assert len(own) == 6
    assert set(body["data"][0]) == {
        "id", "occurred_at", "action", "resource_type", "resource_id", "actor", "channel",
        "request_id", "ip_address", "changes", "hash", "previous_hash",
    }  # fmt: skip
    assert own[-1]["changes"] == {"first_name": [None, "A"]}
    assert own[-1]["hash"] is None or len(own[-1]["hash"]) == 64


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"resource_type": "customers.customer", "resource_id": "CUS-1"},
         [("update", "CUS-1"), ("create", "CUS-1")]),
        ({"action": "deposit"}, [("deposit", "ACC-1")]),
        ({"actor": "partner_key:k1"}, [("update", "CUS-2"), ("update", "CUS-1")]),
        ({"channel": "api", "action": "login"}, []),
    ],
)  # fmt: skip
def test_filters(api, log, query, expected):
    assert ids_of(api.get(EVENTS, query)) == expected


def test_time_range_from_inclusive_to_exclusive(api, log):
    start = (log - 9 * DAY).isoformat()
    end = (log - 7 * DAY).isoformat()
    found = ids_of(
        api.get(EVENTS, {"from": start, "to": end, "resource_type": "customers.customer"})
    )
    assert found == [("create", "CUS-2"), ("update", "CUS-1")]


def test_a_date_alone_as_to_takes_in_the_whole_day(api, log):
    day = (log - 8 * DAY).date().isoformat()
    before = (log - 9 * DAY).date().isoformat()
    customer = {"resource_type": "customers.customer"}
    assert ids_of(api.get(EVENTS, {"from": before, "to": day, **customer})) == [
        ("create", "CUS-2"),
        ("update", "CUS-1"),
    ]
    assert ids_of(api.get(EVENTS, {"from": day, "to": day, **customer})) == [("create", "CUS-2")]
    # The last day of the calendar bounds nothing (there is no day after it to stop before).
    assert len(ids_of(api.get(EVENTS, {"to": "9999-12-31", **customer}))) == 4


def test_keyset_pages_cover_everything_once(api, log):
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = api.get(EVENTS, params).json()
        seen += [(e["occurred_at"], e["id"]) for e in body["data"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    # Newest first by time, ties by id (the fixture's events are older than their ids say).
    assert seen == sorted(seen, reverse=True) and len(seen) == len(set(seen)) >= 6


@pytest.mark.parametrize(
    ("query", "field"),
    [({"from": "yesterday"}, "from"), ({"to": "2025-13-01"}, "to"), ({"channel": "fax"}, "channel"),
     ({"from": "2025-02-01", "to": "2025-01-01"}, "to"), ({"actor": "a\x00b"}, "actor")],
)  # fmt: skip
def test_bad_filters_are_400_naming_the_parameter(api, log, query, field):
    response = api.get(EVENTS, query)
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_needs_the_audit_read_scope(tenant, log):
    assert make_api_client(tenant, scopes=["customers:read"]).get(EVENTS).status_code == 403
    assert make_api_client(tenant, scopes=["audit:read"]).get(EVENTS).status_code == 200


def test_query_cost_does_not_grow_with_the_page(api, log, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):  # key, rate limit (cache), page
        api.get(EVENTS, {"limit": 200})


# --- customers: history from the log, point in time ------------------------------------------


def test_history_of_a_customer_without_any_event_is_empty_not_500(api, tenant):
    with tenant_context(tenant):
        (bare,) = Customer.objects.bulk_create(  # no history row, no event
            [Customer(tenant=tenant, reference="CUS-BULK1", type="business", legal_name="Bulk")]
        )
    response = api.get(f"/api/v1/customers/{bare.reference}/history")
    assert response.status_code == 200
    assert response.json() == {"data": [], "next_cursor": None}


def test_customer_history_includes_relationships_and_pages(api, in_tenant):
    jane = CustomerFactory(tenant=in_tenant)
    acme = BusinessFactory(tenant=in_tenant)
    ShareholdingFactory(customer=acme, related_customer=jane)
    jane.first_name = "Janet"
    jane.save()
    body = api.get(f"/api/v1/customers/{jane.reference}/history", {"limit": 2}).json()
    kinds = [(e["action"], e["resource_type"]) for e in body["data"]]
    assert kinds == [("update", "customers.customer"), ("create", "customers.customerrelationship")]
    rest = api.get(
        f"/api/v1/customers/{jane.reference}/history", {"cursor": body["next_cursor"]}
    ).json()
    assert [(e["action"], e["resource_id"]) for e in rest["data"]] == [("create", jane.reference)]


def test_changes_name_related_objects_by_reference_never_by_database_id(api, in_tenant):
    jane, john = CustomerFactory.create_batch(2, tenant=in_tenant)
    acme = BusinessFactory(tenant=in_tenant)
    stake = ShareholdingFactory(customer=acme, related_customer=jane)
    stake.related_customer = john
    stake.save()
    body = api.get(f"/api/v1/customers/{acme.reference}/history").json()
    changed, created = (e["changes"] for e in body["data"][:2])
    assert created["customer"] == [None, acme.reference]
    assert created["related_customer"] == [None, jane.reference]
    assert changed == {"related_customer": [jane.reference, john.reference]}
    assert not [name for e in body["data"] for name in e["changes"] if name.endswith("_id")]


def test_a_loans_changes_name_its_customer_product_account_and_journal(api, tenant):
    loan = make_loan(tenant, status="active")
    events = api.get(EVENTS, {"resource_id": loan.reference, "action": "create"}).json()["data"]
    (created,) = [e["changes"] for e in events if e["resource_type"] == "lending.loan"]
    assert (created["customer"][1], created["account"][1]) == (
        loan.customer.reference,
        loan.account.reference,
    )
    assert created["product"][1] == loan.product.reference
    events = api.get(EVENTS, {"resource_id": loan.reference, "action": "update"}).json()["data"]
    (disbursed,) = [e["changes"] for e in events if "disbursement_journal" in e["changes"]]
    assert disbursed["disbursement_journal"] == [None, str(loan.disbursement_journal.public_id)]


def test_as_of_returns_each_earlier_version_exactly(api, in_tenant):
    jane = CustomerFactory(tenant=in_tenant, first_name="Jane", national_id="QQ123456C")
    moments = [timezone.now()]
    for name in ("Janet", "Joan"):
        jane.first_name = name
        jane.save()
        moments.append(timezone.now())
    url = f"/api/v1/customers/{jane.reference}"
    for moment, name in zip(moments, ["Jane", "Janet", "Joan"], strict=True):
        body = api.get(url, {"as_of": moment.isoformat()}).json()
        assert body["first_name"] == name
        assert body["national_id"] == "*****456C"
    before = jane.created_at - datetime.timedelta(seconds=1)
    assert api.get(url, {"as_of": before.isoformat()}).status_code == 404
    assert (
        api.get(url, {"as_of": moments[0].strftime("%Y-%m-%dT%H:%M:%S.%fZ")}).json()["first_name"]
        == "Jane"
    )


def test_as_of_the_timestamps_an_answer_carried_finds_that_version(api, in_tenant):
    """`created_at` from the POST and `updated_at` from each PATCH name their own version, to
    the microsecond: the history row is dated by the object's timestamps, not stamped later."""
    response = api.post(
        "/api/v1/customers",
        {
            "type": "individual",
            "first_name": "Jane",
            "last_name": "Doe",
            "date_of_birth": "1990-05-01",
        },
    )
    assert response.status_code == 201, response.content
    created = response.json()
    url = f"/api/v1/customers/{created['reference']}"
    versions = [(created["created_at"], "Jane"), (created["updated_at"], "Jane")]
    for name in ("Janet", "Joan"):
        versions.append((api.patch(url, {"first_name": name}).json()["updated_at"], name))
    for moment, name in versions:
        response = api.get(url, {"as_of": moment})
        assert response.status_code == 200, (moment, response.content)
        assert response.json()["first_name"] == name, moment
    just_before = datetime.datetime.fromisoformat(versions[-1][0]) - datetime.timedelta(
        microseconds=1
    )
    assert api.get(url, {"as_of": just_before.isoformat()}).json()["first_name"] == "Janet"
    before = datetime.datetime.fromisoformat(created["created_at"]) - datetime.timedelta(
        microseconds=1
    )
    assert api.get(url, {"as_of": before.isoformat()}).status_code == 404


def test_as_of_sees_a_customer_deleted_since_and_not_one_deleted_then(api, in_tenant):
    jane = CustomerFactory(tenant=in_tenant)
    alive = timezone.now()
    jane.soft_delete(by="system:test")
    url = f"/api/v1/customers/{jane.reference}"
    assert api.get(url).status_code == 404
    assert api.get(url, {"as_of": alive.isoformat()}).json()["reference"] == jane.reference
    assert api.get(url, {"as_of": timezone.now().isoformat()}).status_code == 404


@pytest.mark.parametrize(
    "value", ["yesterday", "2025-02-30T00:00:00", "1e9", "0001-01-01T00:00:00+01:00"]
)
def test_malformed_as_of_is_400_naming_it(api, in_tenant, value):
    """(An offset PostgreSQL refuses, +17:48, is converted to UTC first: see the next test.)"""
    jane = CustomerFactory(tenant=in_tenant)
    response = api.get(f"/api/v1/customers/{jane.reference}", {"as_of": value})
    assert response.status_code == 400
    assert "as_of" in response.json()["errors"]


def test_as_of_with_any_legal_offset_is_answered(api, in_tenant):
    jane = CustomerFactory(tenant=in_tenant)
    url = f"/api/v1/customers/{jane.reference}"
    assert api.get(url, {"as_of": "0233-07-12T19:32:09+17:48"}).status_code == 404
    assert api.get(EVENTS, {"from": "2020-01-01T00:00:00-23:59"}).status_code == 200


def test_as_of_of_another_tenants_customer_is_404(other_api, in_tenant):
    jane = CustomerFactory(tenant=in_tenant)
    response = other_api.get(
        f"/api/v1/customers/{jane.reference}", {"as_of": timezone.now().isoformat()}
    )
    assert response.status_code == 404


def test_pages_split_events_of_the_same_instant_without_loss(api, tenant):
    instant = timezone.now() - 3 * DAY
    deposits_at(tenant, instant, 7)
    seen, cursor = [], None
    while True:
        params = {"action": "deposit", "limit": 3, **({"cursor": cursor} if cursor else {})}
        body = api.get(EVENTS, params).json()
        seen += [event["resource_id"] for event in body["data"]]
        if not (cursor := body["next_cursor"]):
            break
    assert seen == [f"ACC-{n}" for n in reversed(range(7))]
