"""The lending part of the partner API: every endpoint, happy and refused."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Journal
from core.context import tenant_context
from lending import services
from lending.close_of_day import run_close_of_day
from lending.models import Collateral, Loan, Repayment
from lending.schedule import Terms, build_schedule
from tests.accounts.factories import funded_account
from tests.conftest import make_api_client
from tests.customers.factories import CustomerFactory
from tests.lending.factories import make_loan

BASE = "/api/v1/loans"
# A page: the key's lookup, its `last_used_at` (on first use), the loan or count, the page.
LIST_BUDGET = 4

PRODUCT = {
    "name": "Personal loan",
    "currency": "EUR",
    "min_principal": Decimal("1000.00"),
    "max_principal": Decimal("50000.00"),
    "min_interest_rate": Decimal("5"),
    "max_interest_rate": Decimal("20"),
    "min_installments": 3,
    "max_installments": 60,
    "repayment_frequencies": ["monthly", "weekly"],
    "day_count": "30/360",
    "origination_fee_type": "percent",
    "origination_fee": Decimal("1"),
}


def problem(response, status):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    return response.json()


def ok(response, status=200):
    assert response.status_code == status, response.content
    return response.json()


def make_product(tenant, **fields):
    with tenant_context(tenant):
        return services.create_product(**{**PRODUCT, **fields})


@pytest.fixture
def product(tenant):
    return make_product(tenant)


@pytest.fixture
def account(tenant):
    """An active, verified borrower's EUR account holding 1,000.00."""
    return funded_account(tenant, "1000.00", currency="EUR")


@pytest.fixture
def approver(tenant):
    """Another key of the bank: the four-eyes rule lets it decide what `api` submitted."""
    return make_api_client(tenant, scopes=("lending:read", "lending:approve"))


def terms(product, **fields):
    return {
        "product": product.reference,
        "principal": "12000.00",
        "annual_interest_rate": "12",
        "number_of_installments": 12,
        "repayment_frequency": "monthly",
        **fields,
    }


def application(product, account, **fields):
    return {
        **terms(product),
        "customer": account.customer.reference,
        "account": account.reference,
        **fields,
    }


def apply(api, product, account, **fields):
    return ok(api.post(BASE, application(product, account, **fields)), 201)


@pytest.fixture
def pending(api, product, account):
    return apply(api, product, account)["reference"]


@pytest.fixture
def approved(pending, approver):
    ok(approver.post(f"{BASE}/{pending}/approve"))
    return pending


@pytest.fixture
def active(api, approved):
    ok(api.post(f"{BASE}/{approved}/disburse"))
    return approved


def balance(tenant, account):
    with tenant_context(tenant):
        account.refresh_from_db()
        return account.balance


# --- products ---------------------------------------------------------------------------------


def test_products_list_the_bank_s_own_with_their_limits(api, product, other_tenant):
    make_product(other_tenant, name="Theirs")
    body = ok(api.get("/api/v1/loan-products"))
    assert body["next_cursor"] is None
    (listed,) = body["data"]
    assert listed == {
        "reference": "LPR-000001",
        "name": "Personal loan",
        "currency": "EUR",
        "min_principal": "1000.00",
        "max_principal": "50000.00",
        "min_interest_rate": "5",
        "max_interest_rate": "20",
        "min_installments": 3,
        "max_installments": 60,
        "repayment_frequencies": ["monthly", "weekly"],
        "interest_method": "declining_balance",
        "amortization": "equal_installments",
        "day_count": "30/360",
        "grace_installments": 0,
        "origination_fee_type": "percent",
        "origination_fee": "1",
        "penalty_type": "none",
        "penalty_amount": "0.00",
        "penalty_rate": "0",
        "penalty_tolerance_days": 0,
        "allocation_order": ["penalties", "fees", "interest", "principal"],
        "overpayment": "reduce_installments",
        "is_active": True,
    }


def test_products_are_paginated_by_name(api, tenant):
    for name in ("Car", "Home", "Boat"):
        make_product(tenant, name=name)
    first = ok(api.get("/api/v1/loan-products", {"limit": 2}))
    assert [p["name"] for p in first["data"]] == ["Boat", "Car"]
    rest = ok(api.get("/api/v1/loan-products", {"limit": 2, "cursor": first["next_cursor"]}))
    assert [p["name"] for p in rest["data"]] == ["Home"] and rest["next_cursor"] is None


def test_reading_lending_needs_its_scope(tenant, product):
    stranger = make_api_client(tenant, scopes=("customers:read",))
    assert problem(stranger.get("/api/v1/loan-products"), 403)["type"].endswith("missing-scope")
    assert problem(stranger.get(BASE), 403)


# --- quotes -----------------------------------------------------------------------------------


def test_a_quote_is_the_schedule_of_the_terms_and_stores_nothing(api, tenant, product):
    body = ok(api.post(f"{BASE}/quote", terms(product, start_date="2027-01-15")))
    expected = build_schedule(
        Terms(
            principal=Decimal("12000.00"),
            annual_interest_rate=Decimal("12"),
            number_of_installments=12,
            repayment_frequency="monthly",
            interest_method="declining_balance",
            amortization="equal_installments",
            day_count="30/360",
            start_date=datetime.date(2027, 1, 15),
        )
    )
    assert len(body["installments"]) == 12
    first = body["installments"][0]
    assert first == {
        "number": 1,
        "due_date": "2027-02-15",
        "principal": str(expected.installments[0].principal),
        "interest": "120.00",
        "fees": "0.00",
        "penalties": "0.00",
        "total": str(expected.installments[0].total),
        "paid": "0.00",
        "status": "pending",
    }
    assert body["total_interest"] == str(expected.total_interest)
    assert body["total_payable"] == str(expected.total_payable)
    assert (body["currency"], body["origination_fee"]) == ("EUR", "120.00")
    principal = sum(Decimal(i["principal"]) for i in body["installments"])
    assert principal == Decimal("12000.00")
    with tenant_context(tenant):
        assert not Loan.all_objects.exists()


def test_a_quote_without_dates_starts_today(api, product):
    body = ok(api.post(f"{BASE}/quote", terms(product, repayment_frequency="weekly")))
    today = timezone.localdate()
    assert body["installments"][0]["due_date"] == str(today + datetime.timedelta(weeks=1))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"principal": 12000}, "principal"),  # a JSON number
        ({"principal": "0"}, "principal"),
        ({"principal": "-5.00"}, "principal"),
        ({"principal": "1000.001"}, "principal"),  # more places than EUR has
        ({"annual_interest_rate": "-1"}, "annual_interest_rate"),
        ({"number_of_installments": "12"}, "number_of_installments"),
        ({"number_of_installments": 0}, "number_of_installments"),
        ({"repayment_frequency": "daily"}, "repayment_frequency"),
        ({"product": "LPR-999999"}, "product"),
        ({"start_date": "2027-02-30"}, "start_date"),
        ({"start_date": "9999-12-20"}, "start_date"),  # weeks after it overflow the calendar
        (
            {"first_repayment_date": "0001-01-02", "repayment_frequency": "weekly"},
            "first_repayment_date",
        ),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_a_malformed_quote_is_400_naming_the_field(api, product, change, field):
    body = problem(api.post(f"{BASE}/quote", {**terms(product), **change}), 400)
    assert field in body["errors"], body


def test_first_repayment_before_the_start_is_400(api, product):
    body = problem(
        api.post(
            f"{BASE}/quote",
            terms(product, start_date="2027-03-01", first_repayment_date="2027-02-01"),
        ),
        400,
    )
    assert "first_repayment_date" in body["errors"]


def test_another_bank_s_product_is_unknown(api, other_tenant, product):
    make_product(other_tenant, name="Theirs")
    theirs = make_product(other_tenant, name="Theirs too")  # LPR-000002 only over there
    body = problem(api.post(f"{BASE}/quote", {**terms(product), "product": theirs.reference}), 400)
    assert body["errors"] == {"product": ["No loan product with this reference."]}


@pytest.mark.parametrize(
    ("change", "limit"),
    [
        ({"principal": "999.99"}, "principal 999.99 EUR is below the product's minimum"),
        ({"principal": "50000.01"}, "above the product's maximum of 50000.00 EUR"),
        ({"annual_interest_rate": "25"}, "annual_interest_rate 25 % is above"),
        ({"number_of_installments": 2}, "number_of_installments 2 is below"),
        ({"repayment_frequency": "biweekly"}, "repayment_frequency 'biweekly' is not offered"),
    ],
)
def test_terms_outside_the_product_s_limits_are_422_naming_the_limit(api, product, change, limit):
    body = problem(api.post(f"{BASE}/quote", terms(product, **change)), 422)
    assert body["type"].endswith("/business-rule") and limit in body["detail"]


def test_quoting_needs_the_write_scope(tenant, product):
    reader = make_api_client(tenant, scopes=("lending:read",))
    assert problem(reader.post(f"{BASE}/quote", terms(product)), 403)


# --- applying ---------------------------------------------------------------------------------


def test_apply_creates_an_application_pending_approval(api, tenant, product, account):
    body = apply(api, product, account, first_repayment_date="2027-02-28")
    assert body["reference"] == "LN-000001"
    assert (body["customer"], body["account"], body["product"]) == (
        account.customer.reference,
        account.reference,
        product.reference,
    )
    assert body["status"] == "pending_approval"
    assert body["submitted_on"] == timezone.localdate().isoformat()
    assert (body["principal"], body["annual_interest_rate"]) == ("12000.00", "12")
    assert (body["number_of_installments"], body["repayment_frequency"]) == (12, "monthly")
    assert (body["interest_method"], body["amortization"]) == ("declining_balance",
                                                               "equal_installments")  # fmt: skip
    assert body["first_repayment_date"] == "2027-02-28"
    assert body["approved_on"] is None and body["disbursed_on"] is None
    assert body["outstanding"] == dict.fromkeys(
        ("penalties", "fees", "interest", "principal", "total"), "0.00"
    )
    assert body["days_past_due"] == 0
    assert ok(api.get(f"{BASE}/LN-000001")) == body


def test_apply_is_idempotent(api, tenant, product, account):
    headers = {"Idempotency-Key": "apply-1"}
    first = api.post(BASE, application(product, account), headers=headers)
    again = api.post(BASE, application(product, account), headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    with tenant_context(tenant):
        assert Loan.objects.count() == 1
    other = api.post(BASE, application(product, account, principal="2000.00"), headers=headers)
    assert problem(other, 409)["type"].endswith("idempotency-key-reused")


def test_apply_naming_nothing_of_this_bank_is_400_naming_each(api, product, other_tenant):
    theirs = funded_account(other_tenant, "0")
    body = problem(
        api.post(
            BASE,
            {
                **terms(product),
                "customer": theirs.customer.reference,
                "account": theirs.reference,
            },
        ),
        400,
    )
    assert body["errors"] == {
        "customer": ["No customer with this reference."],
        "account": ["No account with this reference."],
    }


def test_apply_for_a_customer_not_verified_is_422(api, tenant, product):
    with tenant_context(tenant):
        customer = CustomerFactory(tenant=tenant, status="active", kyc_status="pending")
    account = funded_account(tenant, "0", customer=customer)
    body = problem(api.post(BASE, application(product, account)), 422)
    assert "KYC is pending" in body["detail"]


def test_apply_into_someone_else_s_account_is_422(api, tenant, product, account):
    other = funded_account(tenant, "0")
    body = problem(
        api.post(BASE, application(product, other, customer=account.customer.reference)), 422
    )
    assert f"{other.reference} does not belong to the borrower" in body["detail"]


def test_apply_outside_the_limits_is_422(api, product, account):
    body = problem(api.post(BASE, application(product, account, principal="60000.00")), 422)
    assert "above the product's maximum" in body["detail"]


# --- reading and listing ----------------------------------------------------------------------


def test_list_filters_by_customer_and_status(api, tenant, product, account, approver):
    first = apply(api, product, account)["reference"]
    second = apply(api, product, account)["reference"]
    ok(approver.post(f"{BASE}/{first}/approve"))
    other = funded_account(tenant, "0")
    third = apply(api, product, other)["reference"]
    assert [loan["reference"] for loan in ok(api.get(BASE))["data"]] == [third, second, first]
    mine = ok(api.get(BASE, {"customer": account.customer.reference}))["data"]
    assert [loan["reference"] for loan in mine] == [second, first]
    approved = ok(api.get(BASE, {"status": "approved"}))["data"]
    assert [loan["reference"] for loan in approved] == [first]
    assert ok(api.get(BASE, {"customer": "CUS-999999"})) == {"data": [], "next_cursor": None}
    assert "status" in problem(api.get(BASE, {"status": "asleep"}), 400)["errors"]


def test_another_bank_s_loans_are_not_found(api, other_api, active):
    assert ok(other_api.get(BASE))["data"] == []
    for path in ("", "/schedule", "/payoff", "/collateral"):
        assert problem(other_api.get(f"{BASE}/{active}{path}"), 404)
    for path in ("/approve", "/reject", "/withdraw", "/disburse"):
        assert problem(other_api.post(f"{BASE}/{active}{path}"), 404)
    assert problem(other_api.post(f"{BASE}/{active}/repayments", {"amount": "1.00"}), 404)
    assert problem(api.get(f"{BASE}/LN-999999"), 404)
    assert problem(api.get(f"{BASE}/LN%00"), 404)


@pytest.mark.parametrize("count", [1, 6])
def test_the_loan_list_costs_the_same_whatever_the_page(
    api, tenant, product, count, django_assert_max_num_queries
):
    for _ in range(count):
        account = funded_account(tenant, "0")
        apply(api, product, account)
    api.get(BASE)  # the key's first use is recorded once
    with django_assert_max_num_queries(LIST_BUDGET):
        assert len(ok(api.get(BASE))["data"]) == count


# --- decisions --------------------------------------------------------------------------------


def test_approve_by_another_key(approver, pending):
    body = ok(approver.post(f"{BASE}/{pending}/approve"))
    assert body["status"] == "approved"
    assert body["approved_on"] == timezone.localdate().isoformat()


def test_the_four_eyes_rule_refuses_the_submitting_key(api, pending):
    for action in ("approve", "reject"):
        body = problem(api.post(f"{BASE}/{pending}/{action}"), 403)
        assert "Four-eyes" in body["detail"]
    assert ok(api.get(f"{BASE}/{pending}"))["status"] == "pending_approval"


def test_deciding_needs_the_approve_scope(tenant, pending):
    writer = make_api_client(tenant, scopes=("lending:read", "lending:write"))
    for action in ("approve", "reject"):
        body = problem(writer.post(f"{BASE}/{pending}/{action}"), 403)
        assert body["type"].endswith("missing-scope")


def test_reject_says_why(approver, pending):
    body = ok(approver.post(f"{BASE}/{pending}/reject", {"reason": "Income too low"}))
    assert (body["status"], body["decision_reason"]) == ("rejected", "Income too low")
    assert body["decided_on"] == timezone.localdate().isoformat()
    assert (
        "reason" in problem(approver.post(f"{BASE}/{pending}/reject", {"reason": 5}), 400)["errors"]
    )


def test_withdraw(api, pending):
    assert ok(api.post(f"{BASE}/{pending}/withdraw"))["status"] == "withdrawn"


@pytest.mark.parametrize(
    ("action", "status"),
    [("approve", "approved"), ("reject", "approved"), ("withdraw", "active"),
     ("disburse", "active")],
)  # fmt: skip
def test_an_illegal_step_is_409(api, approver, tenant, product, account, action, status):
    ref = apply(api, product, account)["reference"]
    ok(approver.post(f"{BASE}/{ref}/approve"))
    if status == "active":
        ok(api.post(f"{BASE}/{ref}/disburse"))
    client = approver if action in ("approve", "reject") else api
    body = problem(client.post(f"{BASE}/{ref}/{action}"), 409)
    assert body["type"].endswith("/conflict") and status in body["detail"]


def test_an_idempotency_key_is_refused_by_a_decision(approver, pending):
    response = approver.post(
        f"{BASE}/{pending}/approve", headers={"Idempotency-Key": "approve-once"}
    )
    assert problem(response, 400)["type"].endswith("idempotency-key-not-supported")


# --- disbursement -----------------------------------------------------------------------------


def test_disburse_pays_the_principal_less_the_fee_and_writes_the_schedule(
    api, tenant, account, approved
):
    body = ok(api.post(f"{BASE}/{approved}/disburse"))
    today = timezone.localdate()
    assert (body["status"], body["disbursed_on"], body["start_date"]) == (
        "active",
        today.isoformat(),
        today.isoformat(),
    )
    assert body["maturity_date"] > today.isoformat()
    assert body["outstanding"]["principal"] == "12000.00"
    # 1,000.00 + 12,000.00 lent - 120.00 origination fee (1 %).
    assert balance(tenant, account) == Decimal("12880.00")
    schedule = ok(api.get(f"{BASE}/{approved}/schedule"))["data"]
    assert len(schedule) == 12 and schedule[-1]["due_date"] == body["maturity_date"]


def test_disburse_on_a_past_date_and_never_in_the_future(api, approved):
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    body = problem(api.post(f"{BASE}/{approved}/disburse", {"disbursed_on": str(tomorrow)}), 400)
    assert "disbursed_on" in body["errors"]
    past = timezone.localdate() - datetime.timedelta(days=3)
    assert ok(api.post(f"{BASE}/{approved}/disburse", {"disbursed_on": str(past)}))[
        "disbursed_on"
    ] == str(past)


def test_disburse_is_idempotent(api, tenant, account, approved):
    headers = {"Idempotency-Key": "disburse-1"}
    first = api.post(f"{BASE}/{approved}/disburse", headers=headers)
    again = api.post(f"{BASE}/{approved}/disburse", headers=headers)
    assert first.status_code == again.status_code == 200
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert balance(tenant, account) == Decimal("12880.00")
    with tenant_context(tenant):
        assert Journal.objects.filter(kind="loan_disbursement").count() == 1


def test_a_pending_loan_has_no_schedule_yet(api, pending):
    assert ok(api.get(f"{BASE}/{pending}/schedule")) == {"data": [], "next_cursor": None}


def test_the_schedule_pages_in_order(api, active):
    first = ok(api.get(f"{BASE}/{active}/schedule", {"limit": 5}))
    rest = ok(api.get(f"{BASE}/{active}/schedule", {"limit": 50, "cursor": first["next_cursor"]}))
    numbers = [i["number"] for i in first["data"] + rest["data"]]
    assert numbers == list(range(1, 13)) and rest["next_cursor"] is None
    assert all(i["status"] == "pending" and i["paid"] == "0.00" for i in first["data"])


@pytest.mark.parametrize("installments", [3, 48])
def test_the_schedule_costs_the_same_whatever_its_length(
    api, approver, product, account, installments, django_assert_max_num_queries
):
    ref = apply(api, product, account, number_of_installments=installments)["reference"]
    ok(approver.post(f"{BASE}/{ref}/approve"))
    ok(api.post(f"{BASE}/{ref}/disburse"))
    with django_assert_max_num_queries(LIST_BUDGET):
        body = ok(api.get(f"{BASE}/{ref}/schedule"))
    assert len(body["data"]) == installments


# --- repayments -------------------------------------------------------------------------------


def test_a_repayment_is_allocated_and_answers_the_loan_after_it(api, tenant, account, active):
    first = ok(api.get(f"{BASE}/{active}/schedule"))["data"][0]
    body = ok(api.post(f"{BASE}/{active}/repayments", {"amount": "50.00"}), 201)
    assert body["amount"] == "50.00" and body["received_on"] == timezone.localdate().isoformat()
    assert set(body["allocation"]) == {"penalties", "fees", "interest", "principal"}
    assert sum(Decimal(v) for v in body["allocation"].values()) == Decimal("50.00")
    assert body["loan"]["reference"] == active
    assert body["loan"]["outstanding"] == ok(api.get(f"{BASE}/{active}"))["outstanding"]
    assert Decimal(first["total"]) > 0
    assert balance(tenant, account) == Decimal("12830.00")


@pytest.mark.parametrize(
    "amount",
    [50, "0", "0.00", "-5.00", "1.001", "abc", None],
)
def test_a_malformed_amount_is_400_naming_amount(api, active, amount):
    body = problem(api.post(f"{BASE}/{active}/repayments", {"amount": amount}), 400)
    assert list(body["errors"]) == ["amount"]


def test_a_repayment_in_the_future_is_400(api, active):
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    body = problem(
        api.post(f"{BASE}/{active}/repayments", {"amount": "5.00", "received_on": str(tomorrow)}),
        400,
    )
    assert "received_on" in body["errors"]


def test_more_than_the_payoff_is_422(api, active):
    body = problem(api.post(f"{BASE}/{active}/repayments", {"amount": "20000.00"}), 422)
    assert "more than the" in body["detail"]


def test_a_loan_not_active_takes_no_repayment(api, pending):
    assert problem(api.post(f"{BASE}/{pending}/repayments", {"amount": "5.00"}), 409)


def test_a_repayment_is_idempotent(api, tenant, account, active):
    headers = {"Idempotency-Key": "repay-1"}
    first = api.post(f"{BASE}/{active}/repayments", {"amount": "10.00"}, headers=headers)
    again = api.post(f"{BASE}/{active}/repayments", {"amount": "10.00"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert balance(tenant, account) == Decimal("12870.00")
    reused = api.post(f"{BASE}/{active}/repayments", {"amount": "11.00"}, headers=headers)
    assert problem(reused, 409)["type"].endswith("idempotency-key-reused")


def test_paying_off_closes_the_loan(api, active):
    payoff = ok(api.get(f"{BASE}/{active}/payoff"))
    body = ok(api.post(f"{BASE}/{active}/repayments", {"amount": payoff["total"]}), 201)
    assert body["loan"]["status"] == "closed"
    assert body["loan"]["outstanding"]["total"] == "0.00"


# --- payoff -----------------------------------------------------------------------------------


def test_payoff_on_a_date(api, active):
    today = timezone.localdate()
    body = ok(api.get(f"{BASE}/{active}/payoff"))
    assert (body["date"], body["currency"], body["principal"]) == (
        today.isoformat(),
        "EUR",
        "12000.00",
    )
    later = ok(api.get(f"{BASE}/{active}/payoff", {"date": str(today + datetime.timedelta(20))}))
    assert Decimal(later["interest"]) > Decimal(body["interest"])
    total = sum(Decimal(later[c]) for c in ("principal", "interest", "fees", "penalties"))
    assert Decimal(later["total"]) == total


def test_payoff_before_disbursement_or_of_a_bad_date_is_400(api, active):
    before = timezone.localdate() - datetime.timedelta(days=1)
    assert (
        "date" in problem(api.get(f"{BASE}/{active}/payoff", {"date": str(before)}), 400)["errors"]
    )
    assert "date" in problem(api.get(f"{BASE}/{active}/payoff", {"date": "soon"}), 400)["errors"]


def test_a_loan_not_active_pays_off_nothing(api, pending):
    assert ok(api.get(f"{BASE}/{pending}/payoff"))["total"] == "0.00"


# --- collateral -------------------------------------------------------------------------------

CAR = {
    "type": "vehicle",
    "description": "VW Golf 2024",
    "value": "18000.00",
    "currency": "eur",
    "valuation_date": "2026-01-10",
}


def test_add_and_list_collateral(api, tenant, pending):
    car = ok(api.post(f"{BASE}/{pending}/collateral", CAR), 201)
    assert car == {
        "id": car["id"],
        **CAR,
        "currency": "EUR",
        "guarantor": None,
        "created_at": car["created_at"],
    }
    with tenant_context(tenant):
        assert str(Collateral.objects.get().public_id) == car["id"]
    pledged = ok(
        api.get(
            "/api/v1/audit-events",
            {"resource_type": "lending.collateral", "resource_id": car["id"]},
        )
    )["data"]
    assert [event["action"] for event in pledged] == ["create"]
    with tenant_context(tenant):
        guarantor = CustomerFactory(tenant=tenant).reference
    guarantee = {
        "type": "guarantee",
        "description": "Parent's guarantee",
        "value": "5000.00",
        "currency": "EUR",
        "valuation_date": "2026-01-10",
        "guarantor": guarantor,
    }
    added = ok(api.post(f"{BASE}/{pending}/collateral", guarantee), 201)
    assert added["guarantor"] == guarantor and added["id"] != car["id"]
    listed = ok(api.get(f"{BASE}/{pending}/collateral"))
    assert listed == {"data": [car, added], "next_cursor": None}


def test_the_loan_shows_its_loan_to_value_now_and_as_of(api, tenant, pending):
    def ltv(**query):
        return ok(api.get(f"{BASE}/{pending}", query))["loan_to_value"]

    assert ltv() is None
    before = timezone.now()
    ok(api.post(f"{BASE}/{pending}/collateral", {**CAR, "currency": "USD"}), 201)
    assert ltv() is None  # another currency is not converted, not counted
    ok(api.post(f"{BASE}/{pending}/collateral", CAR), 201)
    car = timezone.now()
    ok(api.post(f"{BASE}/{pending}/collateral", {**CAR, "value": "5000.00"}), 201)
    assert ltv() == "0.5217"  # 12000.00 / 23000.00
    listed = ok(api.get(BASE))["data"]
    assert [loan["loan_to_value"] for loan in listed if loan["reference"] == pending] == ["0.5217"]
    assert ltv(as_of=car.isoformat()) == "0.6667"  # 12000.00 / 18000.00
    assert ltv(as_of=before.isoformat()) is None
    # Released for a while, then restored (the admin's soft delete and restore actions).
    with tenant_context(tenant):
        pledged = Collateral.objects.get(loan__reference=pending, currency="EUR", value=5000)
        pledged.soft_delete()
        released = timezone.now()
        Collateral.all_objects.get(pk=pledged.pk).restore()
    assert ltv(as_of=released.isoformat()) == "0.6667"
    assert ltv() == "0.5217"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"type": "guarantee"}, "guarantor"),  # a guarantee names its guarantor
        ({"guarantor": "CUS-999999"}, "guarantor"),
        ({"value": 18000}, "value"),
        ({"value": "0"}, "value"),
        ({"value": "1.001"}, "value"),
        ({"value": "18000.000"}, "value"),  # three places written for EUR
        ({"currency": "XYZ"}, "currency"),
        ({"type": "jewels"}, "type"),
        ({"description": ""}, "description"),
    ],
)
def test_malformed_collateral_is_400_naming_the_field(api, pending, change, field):
    body = problem(api.post(f"{BASE}/{pending}/collateral", {**CAR, **change}), 400)
    assert field in body["errors"], body


def test_an_ended_loan_takes_no_collateral(api, pending):
    ok(api.post(f"{BASE}/{pending}/withdraw"))
    assert problem(api.post(f"{BASE}/{pending}/collateral", CAR), 409)


# --- as of a moment ---------------------------------------------------------------------------


def test_a_loan_as_of_a_moment_is_as_it_was_then(api, tenant, pending, approver):
    def as_of(moment):
        return api.get(f"{BASE}/{pending}", {"as_of": moment.isoformat()})

    before = timezone.now() - datetime.timedelta(seconds=1)
    applied = timezone.now()
    ok(approver.post(f"{BASE}/{pending}/approve"))
    ok(api.post(f"{BASE}/{pending}/disburse"))
    disbursed = timezone.now()
    full = ok(api.get(f"{BASE}/{pending}"))["outstanding"]
    # Ahead of schedule: principal as of then is exact; interest is today's schedule's.
    repayment = ok(api.post(f"{BASE}/{pending}/repayments", {"amount": "500.00"}), 201)
    repaid = timezone.now()
    with tenant_context(tenant):
        services.reverse_repayment(repayment=Repayment.objects.get())
    reversed_ = timezone.now()

    body = problem(as_of(before), 404)
    assert body["detail"] == f"No loan {pending} at {before.isoformat()}."
    then = ok(as_of(applied))
    assert then["status"] == "pending_approval" and then["disbursed_on"] is None
    assert set(then["outstanding"].values()) == {"0.00"}
    assert ok(as_of(disbursed))["status"] == "active"
    assert ok(as_of(disbursed))["outstanding"] == full and full["principal"] == "12000.00"
    principal = repayment["loan"]["outstanding"]["principal"]
    assert ok(as_of(repaid))["outstanding"]["principal"] == principal != "12000.00"
    assert ok(as_of(reversed_))["outstanding"] == full
    assert "as_of" in problem(api.get(f"{BASE}/{pending}", {"as_of": "soon"}), 400)["errors"]


def test_a_loan_in_arrears_as_of_a_moment_owes_what_it_owed_then(api, tenant):
    loan = make_loan(tenant, status="active", funds="1000.00")  # every installment due
    product = loan.product
    with tenant_context(tenant):
        services.update_product(
            product=product, changes={"penalty_type": "flat", "penalty_amount": "7.00"}
        )

    def outstanding(moment=None):
        query = {"as_of": moment.isoformat()} if moment else {}
        return ok(api.get(f"{BASE}/{loan.reference}", query))["outstanding"]

    due = outstanding()
    start = timezone.now()
    with tenant_context(tenant):
        services.repay_loan(loan=loan, amount=Decimal("300.00"))
    repaid = timezone.now()
    paid = outstanding()
    (closed,) = run_close_of_day(on=timezone.localdate(), tenant=tenant)
    assert closed.penalties  # charged after `repaid`
    charged = timezone.now()

    assert outstanding(start) == due
    assert outstanding(repaid) == paid and paid["total"] == f"{Decimal(due['total']) - 300:.2f}"
    assert outstanding(charged) == outstanding() != paid
