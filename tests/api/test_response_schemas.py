"""Every endpoint answers what the OpenAPI document says it answers, field for field.

Real responses of each operation (success and errors) are validated against the documented
schema with a JSON Schema validator, resolving `$ref`s into `components/schemas`; objects are
closed (see `tests/api/conformance.py`), so a serializer and its schema cannot drift apart.
"""

import datetime

import pytest
from django.utils import timezone

from core.api.openapi import build_document
from tests.accounts.factories import funded_account
from tests.api.conformance import Conformance
from tests.conftest import ApiClient, make_api_client

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


@pytest.fixture
def conformance(db):
    return Conformance(build_document())


def test_every_operation_answers_what_it_documents(api, tenant, conformance):
    check = conformance.check
    jane = check(api.post("/api/v1/customers", JANE), "POST", "/customers")
    acme = check(
        api.post("/api/v1/customers", {"type": "business", "legal_name": "Acme Ltd"}),
        "POST",
        "/customers",
    )
    ref, acme_ref = jane["reference"], acme["reference"]
    assert jane["national_id"] == "*****456C" and jane["date_of_birth"] == "1990-05-01"
    assert acme["date_of_birth"] is None

    customer = "/customers/{ref}"
    assert check(api.get(f"/api/v1/customers/{ref}"), "GET", customer)["reference"] == ref
    patched = check(api.patch(f"/api/v1/customers/{ref}", {"email": "j@x.io"}), "PATCH", customer)
    assert patched["email"] == "j@x.io"

    page = check(api.get("/api/v1/customers", {"limit": 1}), "GET", "/customers")
    assert len(page["data"]) == 1 and isinstance(page["next_cursor"], str)
    last = check(
        api.get("/api/v1/customers", {"limit": 1, "cursor": page["next_cursor"]}),
        "GET",
        "/customers",
    )
    assert last["next_cursor"] is None

    relationships = "/customers/{ref}/relationships"
    holding = check(
        api.post(
            f"/api/v1/customers/{acme_ref}/relationships",
            {"type": "shareholder", "related_customer": ref, "ownership_percentage": "60"},
        ),
        "POST",
        relationships,
    )
    assert holding["ownership_percentage"] == "60"
    director = check(
        api.post(
            f"/api/v1/customers/{acme_ref}/relationships",
            {"type": "director", "related_customer": ref},
        ),
        "POST",
        relationships,
    )
    assert director["ownership_percentage"] is None
    listed = check(api.get(f"/api/v1/customers/{acme_ref}/relationships"), "GET", relationships)
    assert {r["id"] for r in listed["data"]} == {holding["id"], director["id"]}

    owners = check(
        api.get(f"/api/v1/customers/{acme_ref}/beneficial-owners"),
        "GET",
        "/customers/{ref}/beneficial-owners",
    )
    assert [(o["customer"], o["effective_ownership"]) for o in owners["data"]] == [(ref, "60")]

    history = check(api.get(f"/api/v1/customers/{ref}/history"), "GET", "/customers/{ref}/history")
    # Newest first, the relationships' events included: Jane's own edit is among them.
    edits = [e for e in history["data"] if e["resource_id"] == ref and "email" in e["changes"]]
    assert edits[0]["changes"]["email"] == ["jane@example.com", "j@x.io"]
    events = check(
        api.get("/api/v1/audit-events", {"resource_id": ref, "limit": 2}), "GET", "/audit-events"
    )
    assert [e["resource_id"] for e in events["data"]] == [ref, ref]

    end = f"/api/v1/customers/{acme_ref}/relationships/{director['id']}"
    check(api.delete(end), "DELETE", "/customers/{ref}/relationships/{relationship_id}")
    gone = api.post("/api/v1/customers", {"type": "business", "legal_name": "Gone Ltd"}).json()
    check(api.delete(f"/api/v1/customers/{gone['reference']}"), "DELETE", customer)

    assert check(api.get("/api/v1/me"), "GET", "/me")["tenant"] == tenant.slug
    check(api.get("/api/v1/openapi.json"), "GET", "/openapi.json")

    _check_accounts(api, tenant, check)
    _check_lending(api, tenant, check)

    assert not conformance.unchecked(), "operations with no conformance check in this test"


def _check_accounts(api, tenant, check):
    holder = api.post("/api/v1/customers", {**JANE, "email": "acc@example.com"}).json()
    api.patch(
        f"/api/v1/customers/{holder['reference']}", {"status": "active", "kyc_status": "verified"}
    )
    opening = {"customer": holder["reference"], "product": "current", "currency": "EUR"}
    account = check(api.post("/api/v1/accounts", opening), "POST", "/accounts")
    other = check(api.post("/api/v1/accounts", opening), "POST", "/accounts")
    ref, other_ref = account["reference"], other["reference"]
    assert account["balance"] == "0.00" and account["closed_on"] is None
    one = "/accounts/{ref}"
    assert check(api.get(f"/api/v1/accounts/{ref}"), "GET", one) == account
    patched = check(api.patch(f"/api/v1/accounts/{ref}", {"overdraft_limit": "10"}), "PATCH", one)
    assert patched["available_balance"] == "10.00"
    page = check(api.get("/api/v1/accounts", {"limit": 1}), "GET", "/accounts")
    assert isinstance(page["next_cursor"], str)

    posting = check(
        api.post(f"/api/v1/accounts/{ref}/deposits", {"amount": "50.00", "description": "test"}),
        "POST",
        "/accounts/{ref}/deposits",
    )
    assert posting["kind"] == "deposit" and posting["balance_after"] == "50.00"
    check(
        api.post(f"/api/v1/accounts/{ref}/withdrawals", {"amount": "5.00", "description": "test"}),
        "POST",
        "/accounts/{ref}/withdrawals",
    )
    moved = check(
        api.post(
            "/api/v1/transfers",
            {"from_account": ref, "to_account": other_ref, "amount": "1.00", "description": "test"},
        ),
        "POST",
        "/transfers",
    )
    assert [t["amount"] for t in moved["transactions"]] == ["-1.00", "1.00"]
    statement = check(
        api.get(f"/api/v1/accounts/{ref}/transactions"), "GET", "/accounts/{ref}/transactions"
    )
    assert [t["kind"] for t in statement["data"]] == ["transfer", "withdrawal", "deposit"]

    holds = "/accounts/{ref}/holds"
    soon = (timezone.now() + datetime.timedelta(days=1)).isoformat()
    hold = check(
        api.post(
            f"/api/v1/accounts/{ref}/holds",
            {"amount": "2.00", "reason": "card", "expires_at": soon},
        ),
        "POST",
        holds,
    )
    assert check(api.get(f"/api/v1/accounts/{ref}/holds"), "GET", holds)["data"] == [hold]
    check(api.delete(f"/api/v1/accounts/{ref}/holds/{hold['id']}"), "DELETE", holds + "/{hold_id}")

    for action, status in (("freeze", "frozen"), ("unfreeze", "active")):
        answer = check(api.post(f"/api/v1/accounts/{ref}/{action}"), "POST", f"{one}/{action}")
        assert answer["status"] == status
    api.post(f"/api/v1/accounts/{other_ref}/withdrawals", {"amount": "1.00", "description": "test"})
    closed = check(api.post(f"/api/v1/accounts/{other_ref}/close"), "POST", f"{one}/close")
    assert closed["status"] == "closed" and closed["closed_on"]


def _check_lending(api, tenant, check):
    from tests.lending.test_api import application, make_product, terms

    product = make_product(tenant)
    account = funded_account(tenant, "1000.00", currency="EUR")
    approver = make_api_client(tenant, scopes=("lending:approve",))
    listed = check(api.get("/api/v1/loan-products"), "GET", "/loan-products")
    assert listed["data"][0]["reference"] == product.reference
    quote = check(api.post("/api/v1/loans/quote", terms(product)), "POST", "/loans/quote")
    assert quote["installments"][0]["status"] == "pending"

    loans, one = "/api/v1/loans", "/loans/{ref}"
    ref = check(api.post(loans, application(product, account)), "POST", "/loans")["reference"]
    withdrawn = check(api.post(loans, application(product, account)), "POST", "/loans")
    rejected = check(api.post(loans, application(product, account)), "POST", "/loans")
    assert check(api.get(loans, {"limit": 2}), "GET", "/loans")["next_cursor"]
    assert check(api.get(f"{loans}/{ref}"), "GET", one)["status"] == "pending_approval"
    collateral = {"type": "vehicle", "description": "Van", "value": "9000.00",
                  "currency": "EUR", "valuation_date": "2026-01-10"}  # fmt: skip
    added = check(api.post(f"{loans}/{ref}/collateral", collateral), "POST", f"{one}/collateral")
    assert check(api.get(f"{loans}/{ref}/collateral"), "GET", f"{one}/collateral")["data"] == [
        added
    ]
    answer = check(approver.post(f"{loans}/{ref}/approve"), "POST", f"{one}/approve")
    assert answer["status"] == "approved"
    gone = api.post(f"{loans}/{withdrawn['reference']}/withdraw")
    assert check(gone, "POST", f"{one}/withdraw")["status"] == "withdrawn"
    refused = approver.post(f"{loans}/{rejected['reference']}/reject", {"reason": "No"})
    assert check(refused, "POST", f"{one}/reject")["status"] == "rejected"
    active = check(api.post(f"{loans}/{ref}/disburse"), "POST", f"{one}/disburse")
    assert active["status"] == "active"
    schedule = check(api.get(f"{loans}/{ref}/schedule"), "GET", f"{one}/schedule")
    assert len(schedule["data"]) == 12
    repaid = check(
        api.post(f"{loans}/{ref}/repayments", {"amount": "25.00"}), "POST", f"{one}/repayments"
    )
    assert repaid["loan"]["reference"] == ref
    payoff = check(api.get(f"{loans}/{ref}/payoff"), "GET", f"{one}/payoff")
    assert payoff["currency"] == "EUR" and payoff["total"] != "0.00"
    then = check(api.get(f"{loans}/{ref}", {"as_of": timezone.now().isoformat()}), "GET", one)
    assert then["outstanding"] == repaid["loan"]["outstanding"]


@pytest.mark.parametrize(
    ("method", "url", "body", "path", "status"),
    [
        ("post", "/api/v1/customers", {**JANE, "phone": "12"}, "/customers", 400),
        ("patch", "/api/v1/customers/{ref}", {"type": 5}, "/customers/{ref}", 400),
        ("get", "/api/v1/customers/CUS-999999", None, "/customers/{ref}", 404),
        ("get", "/api/v1/loans/LN-999999", None, "/loans/{ref}", 404),
        ("get", "/api/v1/loans", {"status": "asleep"}, "/loans", 400),
        ("post", "/api/v1/loans/quote", {"product": "LPR-999999"}, "/loans/quote", 400),
        (
            "post",
            "/api/v1/loans/LN-999999/repayments",
            {"amount": "1.00"},
            "/loans/{ref}/repayments",
            404,
        ),
        ("get", "/api/v1/customers", {"limit": 0}, "/customers", 400),
        (
            "get",
            "/api/v1/customers/{ref}/history",
            {"cursor": "x"},
            "/customers/{ref}/history",
            400,
        ),
        (
            "get",
            "/api/v1/customers/{ref}/beneficial-owners",
            None,
            "/customers/{ref}/beneficial-owners",
            422,
        ),
        (
            "post",
            "/api/v1/customers/{ref}/relationships",
            {"type": "shareholder", "related_customer": "CUS-999999"},
            "/customers/{ref}/relationships",
            400,
        ),
        ("post", "/api/v1/accounts", {"customer": "{ref}"}, "/accounts", 400),
        (
            "post",
            "/api/v1/accounts",
            {"customer": "{ref}", "product": "current", "currency": "EUR"},
            "/accounts",
            422,
        ),
        ("get", "/api/v1/accounts/ACC-999999", None, "/accounts/{ref}", 404),
        (
            "post",
            "/api/v1/accounts/ACC-999999/deposits",
            {"amount": "1.00"},
            "/accounts/{ref}/deposits",
            404,
        ),
        (
            "post",
            "/api/v1/transfers",
            {"from_account": "ACC-1", "to_account": "ACC-2", "amount": 1, "description": "test"},
            "/transfers",
            400,
        ),
        (
            "delete",
            "/api/v1/customers/{ref}/relationships/999999",
            None,
            "/customers/{ref}/relationships/{relationship_id}",
            404,
        ),
    ],
)
def test_errors_are_documented_problems(api, conformance, method, url, body, path, status):
    ref = api.post("/api/v1/customers", JANE).json()["reference"]
    url = url.format(ref=ref)
    if isinstance(body, dict):
        body = {k: v.format(ref=ref) if isinstance(v, str) else v for k, v in body.items()}
    response = getattr(api, method)(url, body) if body is not None else getattr(api, method)(url)
    assert response.status_code == status, response.content
    problem = conformance.check(response, method, path)
    assert problem["status"] == status
    if status == 400:
        assert problem["errors"]


def test_refused_keys_get_documented_problems(tenant, conformance):
    anonymous = conformance.check(ApiClient(None).get("/api/v1/customers"), "GET", "/customers")
    assert anonymous["status"] == 401
    reader = make_api_client(tenant, scopes=("customers:read",))
    refused = conformance.check(reader.post("/api/v1/customers", JANE), "POST", "/customers")
    assert refused["status"] == 403
