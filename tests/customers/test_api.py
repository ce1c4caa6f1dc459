import pytest

from core.context import tenant_context
from customers.models import Customer
from tests.conftest import make_api_client
from tests.customers.factories import BusinessFactory, CustomerFactory, ShareholdingFactory

BASE = "/api/v1/customers"

JANE = {
    "type": "individual",
    "first_name": "Jane",
    "last_name": "Doe",
    "date_of_birth": "1990-05-01",
    "email": "jane@example.com",
    "phone": "+442079460958",
    "national_id": "AB123456C",
    "address": {"line1": "1 High St", "city": "London", "postal_code": "EC1A 1BB", "country": "GB"},
}


def problem(response, status):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    return response.json()


@pytest.fixture
def jane(api):
    response = api.post(BASE, JANE)
    assert response.status_code == 201, response.content
    return response.json()


def test_create_returns_customer_with_masked_national_id(jane):
    assert jane["reference"] == "CUS-000001"
    assert jane["national_id"] == "*****456C"
    assert jane["address"]["city"] == "London"
    assert jane["status"] == "prospect" and jane["kyc_status"] == "pending"
    assert "AB123456C" not in str(jane)


def test_create_business(api):
    body = api.post(BASE, {"type": "business", "legal_name": "Acme Ltd"}).json()
    assert body["type"] == "business" and body["legal_name"] == "Acme Ltd"


def test_create_invalid_names_each_field_and_stores_nothing(api, tenant):
    body = problem(
        api.post(BASE, {**JANE, "last_name": "", "phone": "12", "address": {"country": "XX"}}), 400
    )
    assert {"last_name", "phone", "address.country"} <= set(body["errors"])
    with tenant_context(tenant):
        assert not Customer.all_objects.exists()


def test_create_with_wrong_types_is_400(api):
    body = problem(api.post(BASE, {**JANE, "first_name": 5, "address": "London"}), 400)
    assert set(body["errors"]) == {"first_name", "address"}


def test_duplicate_email_is_400_on_email(api, jane):
    body = problem(api.post(BASE, {**JANE, "first_name": "Other"}), 400)
    assert list(body["errors"]) == ["email"]


def test_read(api, jane):
    body = api.get(f"{BASE}/{jane['reference']}").json()
    assert body == jane


def test_unknown_and_foreign_customers_are_404(api, other_api, jane):
    problem(api.get(f"{BASE}/CUS-999999"), 404)
    problem(other_api.get(f"{BASE}/{jane['reference']}"), 404)
    problem(other_api.patch(f"{BASE}/{jane['reference']}", {"first_name": "X"}), 404)
    problem(other_api.delete(f"{BASE}/{jane['reference']}"), 404)
    assert api.get(f"{BASE}/{jane['reference']}").json() == jane  # untouched by the other bank


def test_patch_changes_only_sent_fields(api, jane):
    body = api.patch(f"{BASE}/{jane['reference']}", {"address": {"city": "Leeds"}}).json()
    assert body["address"]["city"] == "Leeds"
    assert body["address"]["line1"] == "1 High St"
    assert body["first_name"] == "Jane"


def test_patch_status_follows_transitions(api, jane):
    ref = jane["reference"]
    assert api.patch(f"{BASE}/{ref}", {"kyc_status": "verified"}).json()["kyc_status"] == (
        "verified"
    )
    assert api.patch(f"{BASE}/{ref}", {"status": "active"}).json()["status"] == "active"
    body = problem(api.patch(f"{BASE}/{ref}", {"status": "prospect"}), 409)
    assert body["type"].endswith("/conflict") and "cannot go from active" in body["detail"]


def test_activation_without_verified_kyc_is_422_and_changes_nothing(api, jane):
    ref = jane["reference"]
    body = problem(api.patch(f"{BASE}/{ref}", {"status": "active", "first_name": "Zed"}), 422)
    assert body["type"].endswith("/business-rule")
    assert "KYC is pending, not verified" in body["detail"]
    assert api.get(f"{BASE}/{ref}").json() == jane


def test_kyc_verified_and_activated_in_one_patch(api, jane):
    response = api.patch(
        f"{BASE}/{jane['reference']}", {"status": "active", "kyc_status": "verified"}
    )
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["kyc_status"]) == ("active", "verified")


@pytest.mark.parametrize(
    "body",
    [{"first_name": "Janet"}, {"kyc_status": "verified"}, {"first_name": "Jane"}],
)
def test_patch_answers_the_saved_updated_at(api, jane, body):
    patched = api.patch(f"{BASE}/{jane['reference']}", body).json()
    assert patched == api.get(f"{BASE}/{jane['reference']}").json()
    changed = body != {"first_name": "Jane"}  # the same name again changes nothing
    assert (patched["updated_at"] != jane["updated_at"]) is changed


def test_phone_in_national_format_and_lower_case_country(api):
    body = {**JANE, "phone": "020 7946 0958", "address": {"country": "de"}}
    created = api.post(BASE, body).json()
    assert (created["phone"], created["address"]["country"]) == ("+442079460958", "DE")


def test_business_with_person_fields_is_400_naming_them(api):
    body = problem(
        api.post(
            BASE,
            {
                "type": "business",
                "legal_name": "Acme",
                "first_name": "J",
                "date_of_birth": "2015-01-01",
            },
        ),
        400,
    )
    assert body["errors"] == {
        "first_name": ["A business has no first name."],
        "date_of_birth": ["A business has no date of birth."],
    }


def test_patch_invalid_is_400_and_keeps_data(api, jane):
    ref = jane["reference"]
    problem(api.patch(f"{BASE}/{ref}", {"email": "nope"}), 400)
    problem(api.patch(f"{BASE}/{ref}", {"type": "business"}), 400)
    assert api.get(f"{BASE}/{ref}").json()["email"] == "jane@example.com"


def test_delete_soft_deletes(api, jane, tenant):
    ref = jane["reference"]
    assert api.delete(f"{BASE}/{ref}").status_code == 204
    problem(api.get(f"{BASE}/{ref}"), 404)
    with tenant_context(tenant):
        assert Customer.deleted_objects.filter(reference=ref).exists()


def test_scopes_are_enforced(tenant, jane):
    reader = make_api_client(tenant, scopes=["customers:read"])
    assert reader.get(BASE).status_code == 200
    problem(reader.post(BASE, JANE), 403)
    problem(reader.delete(f"{BASE}/{jane['reference']}"), 403)
    problem(make_api_client(tenant, scopes=["audit:read"]).get(BASE), 403)


def test_list_filters_and_tenant_isolation(api, tenant, other_tenant):
    with tenant_context(tenant):
        CustomerFactory.create_batch(2, tenant=tenant)
        BusinessFactory(tenant=tenant)
    with tenant_context(other_tenant):
        CustomerFactory(tenant=other_tenant)
    assert len(api.get(BASE).json()["data"]) == 3
    assert len(api.get(BASE, {"type": "business"}).json()["data"]) == 1
    assert api.get(BASE, {"status": "active"}).json()["data"] == []
    problem(api.get(BASE, {"status": "sleeping"}), 400)


def test_idempotent_create(api):
    first = api.post(BASE, JANE, headers={"Idempotency-Key": "create-jane"})
    again = api.post(BASE, JANE, headers={"Idempotency-Key": "create-jane"})
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"


@pytest.mark.parametrize("page", [5, 50])
def test_list_query_budget_does_not_depend_on_page_size(
    api, tenant, page, django_assert_max_num_queries
):
    with tenant_context(tenant):
        CustomerFactory.create_batch(page, tenant=tenant)
    with django_assert_max_num_queries(4):
        assert len(api.get(BASE, {"limit": page}).json()["data"]) == page


def test_detail_query_budget(api, jane, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):
        api.get(f"{BASE}/{jane['reference']}")


# --- relationships -------------------------------------------------------------------------


@pytest.fixture
def acme(api):
    return api.post(BASE, {"type": "business", "legal_name": "Acme Ltd"}).json()


def test_add_list_and_end_relationship(api, acme, jane):
    url = f"{BASE}/{acme['reference']}/relationships"
    created = api.post(
        url,
        {
            "type": "shareholder",
            "related_customer": jane["reference"],
            "ownership_percentage": "60",
        },
    )
    assert created.status_code == 201, created.content
    rel = created.json()
    assert rel["ownership_percentage"] == "60" and rel["related_customer"] == jane["reference"]
    assert [r["id"] for r in api.get(url).json()["data"]] == [rel["id"]]
    assert api.delete(f"{url}/{rel['id']}").status_code == 204
    assert api.get(url).json()["data"] == []
    problem(api.delete(f"{url}/{rel['id']}"), 404)


def test_relationship_errors(api, acme, jane, other_tenant):
    url = f"{BASE}/{acme['reference']}/relationships"
    problem(api.post(url, {"type": "shareholder", "related_customer": jane["reference"]}), 400)
    body = problem(api.post(url, {"type": "director", "related_customer": "CUS-999999"}), 400)
    assert body["errors"]["related_customer"] == ["No customer with this reference."]
    body = problem(api.post(f"{BASE}/CUS-999999/relationships", {"type": "director"}), 404)
    assert body["type"].endswith("/404") and body["detail"] == "No customer CUS-999999."
    problem(api.delete(f"{url}/999999"), 404)


def test_relationship_with_a_closed_customer_is_409(api, acme, jane):
    api.patch(f"{BASE}/{jane['reference']}", {"status": "closed"})
    url = f"{BASE}/{acme['reference']}/relationships"
    body = problem(api.post(url, {"type": "director", "related_customer": jane["reference"]}), 409)
    assert "is closed" in body["detail"]
    assert api.get(url).json()["data"] == []


def test_relationship_list_query_budget(api, tenant, django_assert_max_num_queries):
    with tenant_context(tenant):
        company = BusinessFactory(tenant=tenant)
        for _ in range(8):
            ShareholdingFactory(customer=company, ownership_percentage="10")
    with django_assert_max_num_queries(5):
        body = api.get(f"{BASE}/{company.reference}/relationships").json()
    assert len(body["data"]) == 8


# --- beneficial owners ----------------------------------------------------------------------


def test_beneficial_owners_endpoint(api, tenant):
    with tenant_context(tenant):
        target = BusinessFactory(tenant=tenant)
        holding = BusinessFactory(tenant=tenant)
        jane = CustomerFactory(tenant=tenant)
        bob = CustomerFactory(tenant=tenant)
        ShareholdingFactory(customer=target, related_customer=holding, ownership_percentage="75")
        ShareholdingFactory(customer=holding, related_customer=jane, ownership_percentage="50")
        ShareholdingFactory(customer=target, related_customer=bob, ownership_percentage="10")
    url = f"{BASE}/{target.reference}/beneficial-owners"
    owners = api.get(url).json()["data"]
    assert owners == [
        {
            "customer": jane.reference,
            "name": jane.display_name,
            "effective_ownership": "37.5",
            "paths": [[jane.reference, holding.reference, target.reference]],
            "paths_truncated": False,
        }
    ]
    everyone = api.get(url, {"threshold": "5"}).json()["data"]
    assert [o["customer"] for o in everyone] == [jane.reference, bob.reference]
    problem(api.get(url, {"threshold": "0"}), 400)
    problem(api.get(url, {"threshold": "abc"}), 400)
    problem(api.get(f"{BASE}/{jane.reference}/beneficial-owners"), 422)


# --- history --------------------------------------------------------------------------------


def test_history_lists_changes_with_actor_and_masks_national_id(api, jane):
    ref = jane["reference"]
    api.patch(
        f"{BASE}/{ref}",
        {"national_id": "ZZ999999Z", "first_name": "Janet"},
        headers={"X-Request-ID": "req-patch-0001"},
    )
    api.patch(f"{BASE}/{ref}", {"status": "blocked"})
    events = api.get(f"{BASE}/{ref}/history").json()["data"]
    assert [e["action"] for e in events] == ["update", "update", "create"]
    assert events[0]["changes"] == {"status": ["prospect", "blocked"]}
    update = events[1]
    assert update["actor"].startswith("partner_key:")
    assert update["request_id"] == "req-patch-0001"
    assert update["changes"]["first_name"] == ["Jane", "Janet"]
    assert update["changes"]["national_id"] == ["*****456C", "*****999Z"]
    assert "AB123456C" not in str(events) and "ZZ999999Z" not in str(events)


def test_a_deleted_customers_history_stays_readable(api, jane, other_api):
    """Deleted, the customer is 404 but its trail, its deletion included, is not."""
    ref = jane["reference"]
    assert api.delete(f"{BASE}/{ref}").status_code == 204
    assert api.get(f"{BASE}/{ref}").status_code == 404
    events = api.get(f"{BASE}/{ref}/history").json()["data"]
    assert [e["action"] for e in events] == ["soft_delete", "create"]
    assert other_api.get(f"{BASE}/{ref}/history").status_code == 404


def test_history_pages(api, jane, django_assert_max_num_queries):
    ref = jane["reference"]
    for n in range(4):
        api.patch(f"{BASE}/{ref}", {"first_name": f"J{n}"})
    with django_assert_max_num_queries(6):
        first = api.get(f"{BASE}/{ref}/history", {"limit": 2}).json()
    second = api.get(f"{BASE}/{ref}/history", {"limit": 2, "cursor": first["next_cursor"]}).json()
    assert first["data"][0]["changes"]["first_name"] == ["J2", "J3"]
    assert second["data"][0]["changes"]["first_name"] == ["J0", "J1"]


@pytest.mark.parametrize("pct", ["1e2", "50%", " 50", "0x10"])
def test_percentage_must_be_a_plain_decimal_string(api, acme, jane, pct):
    url = f"{BASE}/{acme['reference']}/relationships"
    body = problem(
        api.post(
            url,
            {
                "type": "shareholder",
                "related_customer": jane["reference"],
                "ownership_percentage": pct,
            },
        ),
        400,
    )
    assert "ownership_percentage" in body["errors"]


def test_lone_surrogate_is_400_not_500(api):
    raw = '{"type": "business", "legal_name": "\\udfff x"}'
    response = api.client.post(
        BASE, raw, content_type="application/json", headers=api._headers(None)
    )
    assert problem(response, 400)["type"].endswith("malformed-json")


def test_empty_optional_percentage_is_accepted(api, acme, jane):
    url = f"{BASE}/{acme['reference']}/relationships"
    response = api.post(
        url, {"type": "director", "related_customer": jane["reference"], "ownership_percentage": ""}
    )
    assert response.status_code == 201, response.content
