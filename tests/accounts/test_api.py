"""The accounts part of the partner API: every endpoint, happy and refused."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from accounts import services
from accounts.models import AccountBalance, Hold, Journal, Posting
from accounts.rules import BALANCE_LIMIT
from core.context import system_scope, tenant_context
from core.models import IdempotencyRecord
from tests.accounts.factories import AccountFactory, funded_account
from tests.conftest import make_api_client
from tests.customers.factories import CustomerFactory

BASE = "/api/v1/accounts"
# A page of a list: the key's lookup, its `last_used_at` (on first use), the page itself.
LIST_BUDGET = 3


def problem(response, status):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    return response.json()


def created(response):
    assert response.status_code == 201, response.content
    return response.json()


def holder_of(tenant, **fields):
    with tenant_context(tenant):
        return CustomerFactory(
            tenant=tenant, status="active", kyc_status="verified", **fields
        ).reference


@pytest.fixture
def holder(tenant):
    return holder_of(tenant)


def open_account(api, customer, currency="EUR", **fields):
    return created(
        api.post(BASE, {"customer": customer, "product": "current", "currency": currency, **fields})
    )


def deposit(api, ref, amount, **fields):
    return created(
        api.post(f"{BASE}/{ref}/deposits", {"amount": amount, "description": "test", **fields})
    )


@pytest.fixture
def account(api, holder):
    return open_account(api, holder)


@pytest.fixture
def funded(api, account):
    """An EUR account holding 100.00."""
    deposit(api, account["reference"], "100.00")
    return account["reference"]


def balances(api, ref):
    body = api.get(f"{BASE}/{ref}").json()
    return body["balance"], body["available_balance"]


# --- opening, reading, listing ----------------------------------------------------------------


def test_open_account(api, holder):
    body = open_account(api, holder, overdraft_limit="50")
    assert body["reference"] == "ACC-000001"
    assert body["customer"] == holder
    assert (body["product"], body["currency"], body["status"]) == ("current", "EUR", "active")
    assert (body["balance"], body["available_balance"], body["overdraft_limit"]) == (
        "0.00",
        "50.00",
        "50.00",
    )
    assert body["account_number"].isdigit()
    assert body["opened_on"] == timezone.localdate().isoformat() and body["closed_on"] is None
    assert api.get(f"{BASE}/{body['reference']}").json() == body


def test_money_has_the_currency_s_minor_unit(api, holder):
    yen = open_account(api, holder, currency="jpy")
    assert (yen["currency"], yen["balance"]) == ("JPY", "0")
    assert deposit(api, yen["reference"], "1500")["balance_after"] == "1500"
    problem(
        api.post(f"{BASE}/{yen['reference']}/deposits", {"amount": "1.5", "description": "test"}),
        400,
    )
    dinar = open_account(api, holder, currency="KWD")
    assert deposit(api, dinar["reference"], "1.125")["amount"] == "1.125"


@pytest.mark.parametrize(
    ("status", "kyc_status", "why"),
    [("prospect", "verified", "prospect"), ("active", "pending", "KYC")],
)
def test_open_for_a_customer_not_active_and_verified_is_422(api, tenant, status, kyc_status, why):
    with tenant_context(tenant):
        ref = CustomerFactory(tenant=tenant, status=status, kyc_status=kyc_status).reference
    body = problem(api.post(BASE, {"customer": ref, "product": "current", "currency": "EUR"}), 422)
    assert body["type"].endswith("/business-rule") and why in body["detail"]
    assert api.get(BASE).json()["data"] == []


def test_open_with_bad_fields_is_400_naming_each(api, holder, other_tenant):
    body = problem(
        api.post(BASE, {"customer": "CUS-999999", "product": "gold", "currency": "QQQ"}), 400
    )
    assert body["errors"] == {
        "customer": ["No customer with this reference."],
        "product": ["Select a valid choice. gold is not one of the available choices."],
        "currency": ["'QQQ' is not the ISO 4217 code of a currency in use, such as EUR."],
    }
    # The wrong JSON type or form is refused before anything is looked up.
    body = problem(
        api.post(BASE, {"customer": holder, "product": "current", "currency": "EURO"}), 400
    )
    assert list(body["errors"]) == ["currency"]
    body = problem(
        api.post(
            BASE,
            {"customer": holder, "product": "savings", "currency": "EUR", "overdraft_limit": "10"},
        ),
        400,
    )
    assert body["errors"] == {"overdraft_limit": ["A savings account has no overdraft."]}
    for limit in ("-1", "0.001", 5):
        body = problem(
            api.post(
                BASE,
                {
                    "customer": holder,
                    "product": "current",
                    "currency": "EUR",
                    "overdraft_limit": limit,
                },
            ),
            400,
        )
        assert list(body["errors"]) == ["overdraft_limit"]
    holder_of(other_tenant)
    foreign = holder_of(other_tenant)  # CUS-000002: no such customer here
    body = problem(
        api.post(BASE, {"customer": foreign, "product": "current", "currency": "EUR"}), 400
    )
    assert body["errors"] == {"customer": ["No customer with this reference."]}


def test_list_filters_and_tenant_isolation(api, other_api, tenant, other_tenant, holder):
    first = open_account(api, holder)
    second = open_account(api, holder, currency="USD")
    other_holder = holder_of(tenant)
    third = open_account(api, other_holder)
    open_account(other_api, holder_of(other_tenant))
    api.post(f"{BASE}/{third['reference']}/freeze")

    def refs(**params):
        return [a["reference"] for a in api.get(BASE, params).json()["data"]]

    assert refs() == [third["reference"], second["reference"], first["reference"]]
    assert refs(customer=holder) == [second["reference"], first["reference"]]
    assert refs(currency="usd") == [second["reference"]]
    assert refs(status="frozen") == [third["reference"]]
    assert refs(customer="CUS-999999") == []
    assert set(problem(api.get(BASE, {"status": "asleep", "currency": "E"}), 400)["errors"]) == {
        "status",
        "currency",
    }


def test_another_tenant_s_account_is_404_everywhere(api, other_api, funded):
    for response in (
        other_api.get(f"{BASE}/{funded}"),
        other_api.patch(f"{BASE}/{funded}", {"overdraft_limit": "10"}),
        other_api.post(f"{BASE}/{funded}/freeze"),
        other_api.get(f"{BASE}/{funded}/transactions"),
        other_api.post(f"{BASE}/{funded}/deposits", {"amount": "1.00", "description": "test"}),
        other_api.post(f"{BASE}/{funded}/withdrawals", {"amount": "1.00", "description": "test"}),
        other_api.get(f"{BASE}/{funded}/holds"),
        other_api.post(f"{BASE}/{funded}/holds", {"amount": "1.00", "reason": "x"}),
    ):
        assert problem(response, 404)["detail"] == problem(api.get(f"{BASE}/ACC-999999"), 404)[
            "detail"
        ].replace("ACC-999999", funded)
    assert balances(api, funded) == ("100.00", "100.00")


def test_scopes(tenant, funded):
    reader = make_api_client(tenant, scopes=["accounts:read"])
    assert reader.get(BASE).status_code == 200
    assert reader.get(f"{BASE}/{funded}/transactions").status_code == 200
    problem(
        reader.post(f"{BASE}/{funded}/deposits", {"amount": "1.00", "description": "test"}), 403
    )
    problem(reader.post("/api/v1/transfers", {}), 403)
    problem(reader.post(f"{BASE}/{funded}/freeze"), 403)
    outsider = make_api_client(tenant, scopes=["customers:read", "customers:write"])
    problem(outsider.get(BASE), 403)
    problem(outsider.get(f"{BASE}/{funded}/holds"), 403)


# --- settings and lifecycle -------------------------------------------------------------------


def test_patch_overdraft_limit_moves_available_balance(api, funded):
    body = api.patch(f"{BASE}/{funded}", {"overdraft_limit": "25.5"}).json()
    assert (body["overdraft_limit"], body["available_balance"]) == ("25.50", "125.50")
    assert api.patch(f"{BASE}/{funded}", {}).json() == body  # nothing sent, nothing changed
    assert set(problem(api.patch(f"{BASE}/{funded}", {"status": "closed"}), 400)["errors"]) == {
        "status"
    }
    problem(api.patch(f"{BASE}/{funded}", {"overdraft_limit": "-1"}), 400)
    places = problem(api.patch(f"{BASE}/{funded}", {"overdraft_limit": "30.000"}), 400)
    assert places["errors"] == {"overdraft_limit": ["EUR amounts have at most 2 decimal places."]}
    assert api.get(f"{BASE}/{funded}").json() == body


def test_freeze_unfreeze_and_close(api, funded):
    # They take no body: fields sent are refused, never silently dropped.
    refused = problem(api.post(f"{BASE}/{funded}/freeze", {"reason": "fraud"}), 400)
    assert refused["errors"] == {"reason": ["Unknown field."]}
    assert api.get(f"{BASE}/{funded}").json()["status"] == "active"
    assert api.post(f"{BASE}/{funded}/freeze").json()["status"] == "frozen"
    assert problem(api.post(f"{BASE}/{funded}/freeze"), 409)["type"].endswith("/conflict")
    for movement in ("deposits", "withdrawals"):
        body = problem(
            api.post(f"{BASE}/{funded}/{movement}", {"amount": "1.00", "description": "test"}), 422
        )
        assert body["type"].endswith("/business-rule") and "frozen" in body["detail"]
    assert api.post(f"{BASE}/{funded}/unfreeze").json()["status"] == "active"
    problem(api.post(f"{BASE}/{funded}/unfreeze"), 409)
    body = problem(api.post(f"{BASE}/{funded}/close"), 422)  # 100.00 still on it
    assert "balance" in body["detail"]
    created(api.post(f"{BASE}/{funded}/withdrawals", {"amount": "100.00", "description": "test"}))
    closed = api.post(f"{BASE}/{funded}/close").json()
    assert closed["status"] == "closed" and closed["closed_on"] == timezone.localdate().isoformat()
    problem(api.post(f"{BASE}/{funded}/close"), 409)
    assert (
        "closed"
        in problem(
            api.post(f"{BASE}/{funded}/deposits", {"amount": "1.00", "description": "test"}), 422
        )["detail"]
    )
    assert api.get(BASE, {"status": "closed"}).json()["data"] == [closed]


def test_close_with_an_active_hold_is_422(api, account):
    ref = account["reference"]
    deposit(api, ref, "5.00")
    hold = created(api.post(f"{BASE}/{ref}/holds", {"amount": "1.00", "reason": "card"}))
    created(api.post(f"{BASE}/{ref}/withdrawals", {"amount": "4.00", "description": "test"}))
    problem(
        api.post(f"{BASE}/{ref}/withdrawals", {"amount": "1.00", "description": "test"}), 422
    )  # held
    assert api.delete(f"{BASE}/{ref}/holds/{hold['id']}").status_code == 204
    created(api.post(f"{BASE}/{ref}/withdrawals", {"amount": "1.00", "description": "test"}))
    assert api.post(f"{BASE}/{ref}/close").json()["status"] == "closed"


def test_a_holds_audit_events_are_found_by_the_id_the_api_gave_it(api, account):
    ref = account["reference"]
    deposit(api, ref, "5.00")
    hold = created(api.post(f"{BASE}/{ref}/holds", {"amount": "1.00", "reason": "card"}))
    assert api.delete(f"{BASE}/{ref}/holds/{hold['id']}").status_code == 204
    found = api.get(
        "/api/v1/audit-events", {"resource_type": "accounts.hold", "resource_id": hold["id"]}
    ).json()["data"]
    assert [event["action"] for event in found] == ["update", "create"]


def test_a_zero_balance_with_an_active_hold_does_not_close(api, holder):
    """A hold on overdraft: the balance is zero, the hold alone refuses the close."""
    ref = open_account(api, holder, overdraft_limit="10.00")["reference"]
    hold = created(api.post(f"{BASE}/{ref}/holds", {"amount": "5.00", "reason": "card"}))
    assert balances(api, ref) == ("0.00", "5.00")
    body = problem(api.post(f"{BASE}/{ref}/close"), 422)
    assert body["type"].endswith("/business-rule") and "active holds" in body["detail"]
    assert api.get(f"{BASE}/{ref}").json()["status"] == "active"
    assert api.delete(f"{BASE}/{ref}/holds/{hold['id']}").status_code == 204
    assert api.post(f"{BASE}/{ref}/close").json()["status"] == "closed"


def test_an_open_account_keeps_its_customer_open_through_the_api(api, holder):
    ref = open_account(api, holder)["reference"]
    customer = f"/api/v1/customers/{holder}"
    for response in (api.patch(customer, {"status": "closed"}), api.delete(customer)):
        body = problem(response, 409)
        assert body["type"].endswith("/conflict")
        assert f"account {ref} is still open" in body["detail"]
    assert api.get(customer).json()["status"] == "active"
    assert api.post(f"{BASE}/{ref}/close").json()["status"] == "closed"
    assert api.patch(customer, {"status": "closed"}).json()["status"] == "closed"
    assert api.delete(customer).status_code == 204


def test_patch_refusals(api, funded):
    """Lowering the limit below what is drawn is a refused rule (422); a closed account's
    settings no longer change (409). Neither changes anything."""
    api.patch(f"{BASE}/{funded}", {"overdraft_limit": "50.00"})
    created(
        api.post(f"{BASE}/{funded}/withdrawals", {"amount": "130.00", "description": "test"})
    )  # 30.00 drawn
    body = problem(api.patch(f"{BASE}/{funded}", {"overdraft_limit": "20.00"}), 422)
    assert body["type"].endswith("/business-rule") and "overdrawn" in body["detail"]
    assert api.get(f"{BASE}/{funded}").json()["overdraft_limit"] == "50.00"
    api.post(f"{BASE}/{funded}/deposits", {"amount": "30.00", "description": "test"})
    assert api.post(f"{BASE}/{funded}/close").json()["status"] == "closed"
    body = problem(api.patch(f"{BASE}/{funded}", {"overdraft_limit": "0.00"}), 409)
    assert body["type"].endswith("/conflict") and "closed" in body["detail"]
    assert api.get(f"{BASE}/{funded}").json()["overdraft_limit"] == "50.00"


# --- deposits and withdrawals -----------------------------------------------------------------


def test_deposit_answers_the_posting(api, account, tenant):
    ref = account["reference"]
    body = deposit(
        api,
        ref,
        "250.5",
        description="Salary",
        value_date="2025-01-31",
        external_reference="PAY-77",
    )
    assert body["kind"] == "deposit"
    assert (body["amount"], body["balance_after"]) == ("250.50", "250.50")
    assert (body["description"], body["value_date"], body["external_reference"]) == (
        "Salary",
        "2025-01-31",
        "PAY-77",
    )
    with tenant_context(tenant):
        posting = Posting.objects.get(public_id=body["id"])
        assert str(posting.journal.public_id) == body["journal"]
        # Double entry: the settlement account gave what the customer's account received.
        assert sum(p.amount for p in posting.journal.postings.all()) == 0
    assert balances(api, ref) == ("250.50", "250.50")


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        (100, "Must be a string."),
        (1.5, "Must be a string."),
        ("0", None),
        ("0.00", None),
        ("-5.00", None),
        ("1.001", None),
        ("1.000", "EUR amounts have at most 2 decimal places."),  # as written, not by value
        ("1e2", None),
        ("ten", None),
        ("", "This field is required."),
        (None, "Must be a string."),
        ("100000000000000", None),  # 15 digits before the point
    ],
)
def test_bad_amounts_are_400_naming_amount(api, funded, amount, message):
    for path in (f"{BASE}/{funded}/deposits", f"{BASE}/{funded}/withdrawals"):
        body = problem(api.post(path, {"amount": amount, "description": "test"}), 400)
        assert list(body["errors"]) == ["amount"]
        if message:
            assert body["errors"]["amount"] == [message]
    body = problem(
        api.post(
            "/api/v1/transfers",
            {"from_account": funded, "to_account": funded, "amount": amount, "description": "test"},
        ),
        400,
    )
    assert list(body["errors"]) == ["amount"]
    assert balances(api, funded) == ("100.00", "100.00")


@pytest.mark.parametrize("description", [None, "", "   "])
def test_a_movement_without_a_description_is_400_naming_it(api, holder, funded, description):
    """The contract lists `description` among what a movement takes, not among its options."""
    body = {} if description is None else {"description": description}
    target = open_account(api, holder)["reference"]
    for path, fields in (
        (f"{BASE}/{funded}/deposits", {}),
        (f"{BASE}/{funded}/withdrawals", {}),
        ("/api/v1/transfers", {"from_account": funded, "to_account": target}),
    ):
        refused = problem(api.post(path, {"amount": "1.00", **fields, **body}), 400)
        assert refused["errors"] == {"description": ["This field is required."]}
    assert balances(api, funded) == ("100.00", "100.00")


def test_other_bad_movement_fields(api, funded):
    body = problem(
        api.post(f"{BASE}/{funded}/deposits", {"amount": "1.00", "memo": "x", "description": 5}),
        400,
    )
    assert body["errors"] == {
        "memo": ["Unknown field."],
        "description": ["Must be a string."],
    }
    body = problem(
        api.post(
            f"{BASE}/{funded}/deposits",
            {"amount": "1.00", "value_date": "31/01/2025", "description": "x" * 201},
        ),
        400,
    )
    assert set(body["errors"]) == {"value_date", "description"}
    assert balances(api, funded) == ("100.00", "100.00")


def test_withdrawal_within_available_balance_only(api, funded):
    api.patch(f"{BASE}/{funded}", {"overdraft_limit": "20"})
    body = created(
        api.post(f"{BASE}/{funded}/withdrawals", {"amount": "110.00", "description": "test"})
    )
    assert (body["kind"], body["amount"], body["balance_after"]) == (
        "withdrawal",
        "-110.00",
        "-10.00",
    )
    refused = problem(
        api.post(f"{BASE}/{funded}/withdrawals", {"amount": "10.01", "description": "test"}), 422
    )
    assert refused["type"].endswith("/business-rule")
    assert balances(api, funded) == ("-10.00", "10.00")


# --- transfers --------------------------------------------------------------------------------


def transfer(api, source, target, amount, **fields):
    return api.post(
        "/api/v1/transfers",
        {
            "from_account": source,
            "to_account": target,
            "amount": amount,
            "description": "test",
            **fields,
        },
    )


def test_transfer(api, holder, funded):
    target = open_account(api, holder)["reference"]
    body = created(transfer(api, funded, target, "30.25", description="Rent"))
    assert (body["from_account"], body["to_account"]) == (funded, target)
    assert (body["amount"], body["currency"], body["description"]) == ("30.25", "EUR", "Rent")
    debit, credit = body["transactions"]
    assert (debit["amount"], debit["balance_after"]) == ("-30.25", "69.75")
    assert (credit["amount"], credit["balance_after"]) == ("30.25", "30.25")
    assert debit["journal"] == credit["journal"] == body["journal"]
    assert {debit["kind"], credit["kind"]} == {"transfer"}
    assert balances(api, funded) == ("69.75", "69.75")
    assert balances(api, target) == ("30.25", "30.25")
    assert api.get(f"{BASE}/{target}/transactions").json()["data"] == [credit]


def test_transfer_refusals(api, other_api, holder, other_tenant, funded):
    dollars = open_account(api, holder, currency="USD")["reference"]
    euros = open_account(api, holder)["reference"]
    other_holder = holder_of(other_tenant)
    # The other bank's fourth account: a reference that does not exist here.
    foreign = [open_account(other_api, other_holder) for _ in range(4)][-1]["reference"]
    assert "currenc" in problem(transfer(api, funded, dollars, "1.00"), 422)["detail"]
    assert problem(transfer(api, funded, euros, "100.01"), 422)["type"].endswith("/business-rule")
    # Another bank's account is as unknown as one that does not exist, on either side.
    unknown = problem(transfer(api, funded, "ACC-999999", "1.00"), 404)["detail"]
    assert problem(transfer(api, funded, foreign, "1.00"), 404)["detail"] == unknown.replace(
        "ACC-999999", foreign
    )
    problem(transfer(api, foreign, funded, "1.00"), 404)
    body = problem(api.post("/api/v1/transfers", {"amount": "1.00"}), 400)
    assert set(body["errors"]) == {"from_account", "to_account", "description"}
    api.post(f"{BASE}/{euros}/freeze")
    assert "frozen" in problem(transfer(api, funded, euros, "1.00"), 422)["detail"]
    assert balances(api, funded) == ("100.00", "100.00")
    assert balances(other_api, foreign) == ("0.00", "0.00")


# --- statements -------------------------------------------------------------------------------


def test_statement_newest_first_with_running_balance_and_pages(api, account):
    ref = account["reference"]
    for amount in ("1.00", "2.00", "3.00", "4.00", "5.00"):
        deposit(api, ref, amount)
    created(api.post(f"{BASE}/{ref}/withdrawals", {"amount": "6.00", "description": "test"}))
    first = api.get(f"{BASE}/{ref}/transactions", {"limit": 4}).json()
    second = api.get(
        f"{BASE}/{ref}/transactions", {"limit": 4, "cursor": first["next_cursor"]}
    ).json()
    rows = first["data"] + second["data"]
    assert second["next_cursor"] is None
    assert [(r["amount"], r["balance_after"]) for r in rows] == [
        ("-6.00", "9.00"),
        ("5.00", "15.00"),
        ("4.00", "10.00"),
        ("3.00", "6.00"),
        ("2.00", "3.00"),
        ("1.00", "1.00"),
    ]


def test_statement_period(api, account, tenant):
    ref = account["reference"]
    today = timezone.localdate()
    deposit(api, ref, "1.00")
    assert (
        len(api.get(f"{BASE}/{ref}/transactions", {"from": today.isoformat()}).json()["data"]) == 1
    )
    tomorrow = (today + datetime.timedelta(days=1)).isoformat()
    yesterday = (today - datetime.timedelta(days=1)).isoformat()
    assert api.get(f"{BASE}/{ref}/transactions", {"from": tomorrow}).json()["data"] == []
    assert api.get(f"{BASE}/{ref}/transactions", {"to": yesterday}).json()["data"] == []
    body = problem(api.get(f"{BASE}/{ref}/transactions", {"from": tomorrow, "to": yesterday}), 400)
    assert list(body["errors"]) == ["to"]
    assert list(problem(api.get(f"{BASE}/{ref}/transactions", {"from": "May"}), 400)["errors"]) == [
        "from"
    ]


# --- holds ------------------------------------------------------------------------------------


def test_holds_reduce_available_balance_until_released(api, funded):
    url = f"{BASE}/{funded}/holds"
    hold = created(api.post(url, {"amount": "30.00", "reason": "Card authorisation"}))
    assert (hold["amount"], hold["status"], hold["expires_at"], hold["released_at"]) == (
        "30.00",
        "active",
        None,
        None,
    )
    assert balances(api, funded) == ("100.00", "70.00")
    assert api.get(url).json()["data"] == [hold]
    assert api.delete(f"{url}/{hold['id']}").status_code == 204
    assert balances(api, funded) == ("100.00", "100.00")
    (released,) = api.get(url).json()["data"]
    assert released["status"] == "released" and released["released_at"]
    assert api.get(url, {"status": "active"}).json()["data"] == []
    assert problem(api.delete(f"{url}/{hold['id']}"), 409)["type"].endswith("/conflict")
    problem(api.delete(f"{url}/00000000-0000-0000-0000-000000000000"), 404)


def test_hold_refusals(api, funded, other_api):
    url = f"{BASE}/{funded}/holds"
    past = (timezone.now() - datetime.timedelta(minutes=1)).isoformat()
    body = problem(api.post(url, {"amount": "0", "reason": "", "expires_at": past}), 400)
    assert set(body["errors"]) == {"amount", "reason", "expires_at"}
    problem(api.post(url, {"amount": "100.01", "reason": "x"}), 422)  # beyond available
    hold = created(api.post(url, {"amount": "1.00", "reason": "x"}))
    problem(other_api.delete(f"{url}/{hold['id']}"), 404)


def test_an_expired_hold_stops_counting(api, funded, tenant):
    url = f"{BASE}/{funded}/holds"
    soon = timezone.now() + datetime.timedelta(hours=1)
    hold = created(
        api.post(url, {"amount": "40.00", "reason": "x", "expires_at": soon.isoformat()})
    )
    assert balances(api, funded) == ("100.00", "60.00")
    # An hour passes: moved back in the database rather than waited for.
    with tenant_context(tenant):
        past = timezone.now() - datetime.timedelta(seconds=1)
        Hold.objects.filter(public_id=hold["id"]).update(expires_at=past)
        from accounts.models import AccountBalance

        AccountBalance.objects.filter(account__reference=funded).update(next_hold_expiry=past)
    assert balances(api, funded) == ("100.00", "100.00")
    assert api.get(url).json()["data"][0]["status"] == "expired"
    created(api.post(f"{BASE}/{funded}/withdrawals", {"amount": "100.00", "description": "test"}))


# --- idempotency ------------------------------------------------------------------------------


def test_a_retried_deposit_posts_once(api, account, tenant):
    ref = account["reference"]
    url = f"{BASE}/{ref}/deposits"
    key = {"Idempotency-Key": "dep-1"}
    first = created(api.post(url, {"amount": "10.00", "description": "test"}, headers=key))
    again = api.post(url, {"amount": "10.00", "description": "test"}, headers=key)
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json() == first
    assert problem(api.post(url, {"amount": "11.00", "description": "test"}, headers=key), 409)[
        "type"
    ].endswith("/idempotency-key-reused")
    assert balances(api, ref) == ("10.00", "10.00")
    with tenant_context(tenant):
        assert Journal.objects.filter(kind="deposit").count() == 1


def test_idempotent_transfer_and_hold_and_opening(api, holder, funded):
    target = open_account(api, holder)["reference"]
    key = {"Idempotency-Key": "tr-1"}
    body = {"from_account": funded, "to_account": target, "amount": "5.00", "description": "test"}
    first = created(api.post("/api/v1/transfers", body, headers=key))
    assert api.post("/api/v1/transfers", body, headers=key).json() == first
    assert balances(api, target) == ("5.00", "5.00")
    hold = {"amount": "1.00", "reason": "x"}
    url = f"{BASE}/{funded}/holds"
    assert (
        created(api.post(url, hold, headers={"Idempotency-Key": "h-1"}))
        == api.post(url, hold, headers={"Idempotency-Key": "h-1"}).json()
    )
    assert len(api.get(url).json()["data"]) == 1
    opening = {"customer": holder, "product": "savings", "currency": "EUR"}
    twice = [api.post(BASE, opening, headers={"Idempotency-Key": "o-1"}) for _ in range(2)]
    assert twice[0].json() == twice[1].json()
    assert len(api.get(BASE, {"customer": holder}).json()["data"]) == 3


def test_lifecycle_operations_refuse_the_idempotency_key(api, funded):
    body = problem(api.post(f"{BASE}/{funded}/freeze", headers={"Idempotency-Key": "f"}), 400)
    assert body["type"].endswith("/idempotency-key-not-supported")


# --- query budgets ----------------------------------------------------------------------------


@pytest.mark.parametrize("page", [5, 50])
def test_account_list_query_budget_does_not_depend_on_page_size(
    api, tenant, page, django_assert_max_num_queries
):
    accounts = AccountFactory.create_batch(page, tenant=tenant)
    with tenant_context(tenant):
        # Some with a hold that has expired since: their available balance sums live holds.
        for account in accounts[::2]:
            services.deposit(account=account, amount=Decimal("1"))
            services.place_hold(
                account=account,
                amount=Decimal("1"),
                reason="x",
                expires_at=timezone.now() + datetime.timedelta(hours=1),
            )
        Hold.objects.update(expires_at=timezone.now())
        AccountBalance.objects.update(next_hold_expiry=timezone.now())
    with django_assert_max_num_queries(LIST_BUDGET):
        body = api.get(BASE, {"limit": page}).json()
    assert len(body["data"]) == page
    # The expired holds no longer count: available equals balance everywhere.
    assert all(a["available_balance"] == a["balance"] for a in body["data"])
    assert sum(a["balance"] == "1.00" for a in body["data"]) == len(accounts[::2])


@pytest.mark.parametrize("page", [5, 50])
def test_statement_page_query_budget_does_not_depend_on_page_size(
    api, tenant, page, django_assert_max_num_queries
):
    account = funded_account(tenant, "1000.00")
    with tenant_context(tenant):
        for _ in range(page):
            services.withdraw(account=account, amount=Decimal("1.00"))
    url = f"{BASE}/{account.reference}/transactions"
    with django_assert_max_num_queries(LIST_BUDGET + 1):  # the account's lookup
        body = api.get(url, {"limit": page}).json()
    assert len(body["data"]) == page and body["next_cursor"]
    with django_assert_max_num_queries(LIST_BUDGET + 1):
        assert len(api.get(url, {"limit": page, "cursor": body["next_cursor"]}).json()["data"])


# Round trips of one money movement with an Idempotency-Key, as counted inside the test's
# transaction (its savepoint pair stands for BEGIN and COMMIT): the key's lookup, the
# idempotency record's INSERT, the account lookup (both accounts of a transfer in one), the
# service's savepoint pair, one locking SELECT of the balance rows, the journal with its
# postings and balances (one statement on PostgreSQL, three elsewhere), the audit event and its
# links, the record's UPDATE.
MOVEMENT_BUDGET = 12 if connection.vendor == "postgresql" else 14


def test_a_deposit_costs_a_fixed_few_queries(api, funded, django_assert_max_num_queries):
    with django_assert_max_num_queries(MOVEMENT_BUDGET):
        created(
            api.post(
                f"{BASE}/{funded}/deposits",
                {"amount": "1.00", "description": "test"},
                headers={"Idempotency-Key": "q"},
            )
        )


def test_a_transfer_costs_a_fixed_few_queries(api, holder, funded, django_assert_max_num_queries):
    target = open_account(api, holder)["reference"]
    with django_assert_max_num_queries(MOVEMENT_BUDGET):
        response = api.post(
            "/api/v1/transfers",
            {"from_account": funded, "to_account": target, "amount": "1.00", "description": "test"},
            headers={"Idempotency-Key": "q"},
        )
    assert created(response)["amount"] == "1.00"


def test_as_of_answers_the_account_and_its_balances_then(api, funded, tenant):
    moments = []
    for step in (
        lambda: api.patch(f"{BASE}/{funded}", {"overdraft_limit": "50"}),
        lambda: api.post(f"{BASE}/{funded}/holds", {"amount": "30.00", "reason": "card"}),
        lambda: api.post(
            f"{BASE}/{funded}/withdrawals", {"amount": "60.00", "description": "test"}
        ),
        lambda: api.post(f"{BASE}/{funded}/freeze"),
    ):
        moments.append(timezone.now().isoformat())
        assert step().status_code in (200, 201)
    moments.append(timezone.now().isoformat())

    def then(moment):
        body = api.get(f"{BASE}/{funded}", {"as_of": moment}).json()
        return body["status"], body["balance"], body["available_balance"]

    assert [then(m) for m in moments] == [
        ("active", "100.00", "100.00"),
        ("active", "100.00", "150.00"),
        ("active", "100.00", "120.00"),
        ("active", "40.00", "60.00"),
        ("frozen", "40.00", "60.00"),
    ]
    problem(api.get(f"{BASE}/{funded}", {"as_of": "2000-01-01T00:00:00Z"}), 404)
    problem(api.get(f"{BASE}/{funded}", {"as_of": "yesterday"}), 400)


def test_a_nul_in_a_reference_is_404_not_500(api, funded):
    for response in (
        api.get(f"{BASE}/ACC%00"),
        api.get(f"{BASE}/ACC%00", {"as_of": "2030-01-01T00:00:00Z"}),
        api.post(f"{BASE}/ACC%00/deposits", {"amount": "1.00", "description": "test"}),
        api.get(BASE, {"customer": "CUS\x00"}),
    ):
        assert response.status_code in (400, 404), response.content
    body = problem(
        api.post(
            "/api/v1/transfers",
            {
                "from_account": funded,
                "to_account": "A\x00",
                "amount": "1.00",
                "description": "test",
            },
        ),
        400,
    )
    assert list(body["errors"]) == ["to_account"]


def test_the_bank_s_internal_accounts_are_not_partner_accounts(api, funded):
    """The settlement account exists (the deposit's other side) but is no partner's business."""
    for response in (
        api.get(f"{BASE}/SETTLEMENT-EUR"),
        api.get(f"{BASE}/SETTLEMENT-EUR", {"as_of": timezone.now().isoformat()}),
        api.get(f"{BASE}/SETTLEMENT-EUR/transactions"),
        api.post(f"{BASE}/SETTLEMENT-EUR/deposits", {"amount": "1.00", "description": "test"}),
        api.post(f"{BASE}/SETTLEMENT-EUR/withdrawals", {"amount": "1.00", "description": "test"}),
        api.post(f"{BASE}/SETTLEMENT-EUR/freeze"),
        api.get(f"{BASE}/SETTLEMENT-EUR/holds"),
        api.post(f"{BASE}/SETTLEMENT-EUR/holds", {"amount": "1.00", "reason": "card"}),
        api.post(
            "/api/v1/transfers",
            {
                "from_account": "SETTLEMENT-EUR",
                "to_account": funded,
                "amount": "1.00",
                "description": "test",
            },
        ),
        api.post(
            "/api/v1/transfers",
            {
                "from_account": funded,
                "to_account": "SETTLEMENT-EUR",
                "amount": "1.00",
                "description": "test",
            },
        ),
    ):
        assert problem(response, 404)["detail"].startswith("No account ")
    assert balances(api, funded) == ("100.00", "100.00")


def _purge():
    with system_scope():
        IdempotencyRecord.objects.all().delete()  # as purge_idempotency_records does, a day on


def test_a_retry_after_the_stored_response_is_purged_still_posts_once(api, funded, tenant):
    url = f"{BASE}/{funded}/withdrawals"
    key = {"Idempotency-Key": "late-retry"}
    sent = {"amount": "10.00", "description": "ATM", "external_reference": "atm-1"}
    response = api.post(url, sent, headers=key)
    first = created(response)
    assert "Idempotent-Replayed" not in response
    _purge()
    response = api.post(url, sent, headers=key)
    assert created(response) == first and response["Idempotent-Replayed"] == "true"
    assert balances(api, funded) == ("90.00", "90.00")
    # The same key with another body is another request, whatever part of it differs.
    for changed in (
        {"amount": "11.00"},
        {"description": "ATM withdrawal"},
        {"external_reference": "atm-2"},
        {"value_date": (timezone.localdate() - datetime.timedelta(days=1)).isoformat()},
    ):
        _purge()
        body = problem(api.post(url, {**sent, **changed}, headers=key), 409)
        assert body["type"].endswith("/idempotency-key-reused"), changed
    assert balances(api, funded) == ("90.00", "90.00")
    # Another integration of the bank may use the same key for its own movement.
    other = make_api_client(tenant)
    assert (
        created(other.post(url, {"amount": "10.00", "description": "test"}, headers=key))["id"]
        != first["id"]
    )


def test_a_transfer_retried_after_the_purge_is_a_replay(api, holder, funded):
    target = open_account(api, holder)["reference"]
    key = {"Idempotency-Key": "late-transfer"}
    sent = {"from_account": funded, "to_account": target, "amount": "7.00", "description": "rent"}
    first = created(api.post("/api/v1/transfers", sent, headers=key))
    _purge()
    response = api.post("/api/v1/transfers", sent, headers=key)
    assert created(response) == first and response["Idempotent-Replayed"] == "true"
    _purge()
    body = problem(api.post("/api/v1/transfers", {**sent, "description": "gift"}, headers=key), 409)
    assert body["type"].endswith("/idempotency-key-reused")
    assert balances(api, funded) == ("93.00", "93.00")


def test_a_deposit_past_what_the_ledger_holds_is_422_naming_the_amount(api, funded, tenant):
    with tenant_context(tenant):
        AccountBalance.objects.filter(account__reference=funded).update(
            balance=BALANCE_LIMIT - Decimal("10.00")  # 15 significant digits (SQLite)
        )
    body = problem(
        api.post(f"{BASE}/{funded}/deposits", {"amount": "20.00", "description": "test"}), 422
    )
    assert body["detail"].startswith(f"20.00 EUR would take the balance of {funded} beyond")
