"""The lending back office as a staff user of `tenant` sees it: products (readable limits, fees,
penalties and allocation order; added and changed through the services), loans (list columns,
filters, search, query budget, schedule / repayments / collateral inline, loan-to-value,
history), the decisions (approve, reject, disburse, repay, collateral, write off) with the
four-eyes rule refused as a message, never a 500, and the portfolio-at-risk report."""

import datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import ERROR, SUCCESS
from django.db.models import F
from django.utils import timezone

from accounts.models import Account, Journal
from core.context import tenant_context
from lending import selectors, services
from lending.models import Collateral, Installment, Loan, LoanProduct, Repayment
from tests.accounts.factories import ActiveCustomerFactory, funded_account
from tests.core.test_security_headers import INLINE_SCRIPT
from tests.customers.test_admin import form_fields, listed, messages_of

pytestmark = pytest.mark.django_db

PRODUCTS = "/admin/lending/loanproduct/"
LOANS = "/admin/lending/loan/"
CLERK = "user:clerk"  # submits the applications; hana (the staff client) decides them
# One page of loans, whatever its length: session, user, membership, tenant, permissions (2),
# the count, the rows (customer and product joined, outstanding amounts as subqueries), the
# product filter's choices.
LOANS_QUERY_BUDGET = 10

PERSONAL = {
    "name": "Personal loan",
    "currency": "EUR",
    "min_principal": Decimal("500"),
    "max_principal": Decimal("20000"),
    "min_interest_rate": Decimal("5"),
    "max_interest_rate": Decimal("15"),
    "min_installments": 3,
    "max_installments": 36,
    "repayment_frequencies": ["monthly"],
    "origination_fee_type": "percent",
    "origination_fee": Decimal("1"),
    "penalty_type": "flat",
    "penalty_amount": Decimal("25"),
    "penalty_tolerance_days": 5,
}


def url_of(loan, action=""):
    return f"{LOANS}{loan.pk}/{action or 'change'}/"


def errors_of(response):
    return [m for level, m in messages_of(response) if level == ERROR]


def successes_of(response):
    return [m for level, m in messages_of(response) if level == SUCCESS]


def apply(book, principal="1200", *, by=CLERK, customer=None, account=None):
    return services.apply_for_loan(
        customer=customer or book.jane,
        product=book.product,
        account=account or book.janes,
        principal=Decimal(principal),
        annual_interest_rate=Decimal("12"),
        number_of_installments=3,
        repayment_frequency="monthly",
        by=by,
    )


def active_loan(book, principal="1200", **kwargs):
    loan = apply(book, principal, **kwargs)
    services.approve_loan(loan=loan, by="user:manager")
    return services.disburse_loan(loan=loan, by=CLERK)


def fresh(loan):
    return Loan.objects.with_outstanding().get(pk=loan.pk)


@pytest.fixture
def book(in_tenant):
    """A personal-loan product; Jane (an account with 300.00) and Bob (empty)."""
    product = services.create_product(**PERSONAL)
    jane = ActiveCustomerFactory(tenant=in_tenant, first_name="Jane", last_name="Okafor")
    bob = ActiveCustomerFactory(tenant=in_tenant, first_name="Bob", last_name="Lindqvist")
    janes = funded_account(in_tenant, "300.00", customer=jane)
    bobs = funded_account(in_tenant, "0", customer=bob)
    return SimpleNamespace(product=product, jane=jane, bob=bob, janes=janes, bobs=bobs)


# --- products ----------------------------------------------------------------------------------


def test_products_list_reads_limits_fees_and_penalties(staff_client, book):
    rows = listed(staff_client.get(PRODUCTS))
    assert rows[book.product.pk] == {
        "reference": "LPR-000001",
        "name": "Personal loan",
        "currency": "EUR",
        "principal_range": "500.00 to 20,000.00",
        "rate_range": "5 % to 15 %",
        "installments_range": "3 to 36",
        "frequencies": "monthly",
        "fee": "1 %",
        "penalty": "25.00 EUR per missed installment after 5 days",
        "is_active": rows[book.product.pk]["is_active"],
    }


def test_product_page_shows_the_allocation_order_as_arrows(staff_client, book):
    url = f"{PRODUCTS}{book.product.pk}/change/"
    html = staff_client.get(url).content.decode()
    chosen = '<option value="penalties,fees,interest,principal" selected>'
    assert f"{chosen}penalties → fees → interest → principal</option>" in html
    staff_client.user.user_permissions.set(Permission.objects.filter(codename="view_loanproduct"))
    html = staff_client.get(url).content.decode()
    assert '<div class="readonly">penalties → fees → interest → principal</div>' in html


def test_add_product_creates_it_through_the_service(staff_client, book):
    page = staff_client.get(f"{PRODUCTS}add/").content.decode()
    data = {
        **form_fields(page),
        "name": "Car loan",
        "currency": "EUR",
        "min_principal": "2000",
        "max_principal": "40000",
        "min_interest_rate": "4",
        "max_interest_rate": "9",
        "min_installments": "12",
        "max_installments": "84",
        "repayment_frequencies": ["monthly", "biweekly"],
        "origination_fee_type": "flat",
        "origination_fee": "150",
        "penalty_type": "rate",
        "penalty_rate": "10",
        "penalty_tolerance_days": "3",
        "allocation_order": "interest,principal,fees,penalties",
        "overpayment": "shorten_term",
        "is_active": "on",
    }
    response = staff_client.post(f"{PRODUCTS}add/", data, follow=True)
    assert response.status_code == 200
    car = LoanProduct.objects.get(name="Car loan")
    assert car.reference == "LPR-000002"
    assert car.allocation_order == ["interest", "principal", "fees", "penalties"]
    assert car.repayment_frequencies == ["monthly", "biweekly"]
    assert listed(staff_client.get(PRODUCTS))[car.pk]["penalty"] == (
        "10 % a year on the overdue amount after 3 days"
    )


def test_a_product_the_rules_refuse_is_shown_on_its_form(staff_client, book):
    url = f"{PRODUCTS}{book.product.pk}/change/"
    data = {**form_fields(staff_client.get(url).content.decode()), "max_principal": "100"}
    data["repayment_frequencies"] = ["monthly"]
    response = staff_client.post(url, data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert LoanProduct.objects.get(pk=book.product.pk).max_principal == Decimal("20000")


def test_product_change_goes_through_the_service_and_into_the_history(staff_client, book):
    url = f"{PRODUCTS}{book.product.pk}/change/"
    data = {**form_fields(staff_client.get(url).content.decode()), "max_installments": "48"}
    data["repayment_frequencies"] = ["monthly"]
    response = staff_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert LoanProduct.objects.get(pk=book.product.pk).max_installments == 48
    history = staff_client.get(f"{url.removesuffix('change/')}history/").content.decode()
    assert "hana (staff)" in history and "36 → 48" in history


def test_soft_deleting_a_product_says_its_loans_keep_their_terms(staff_client, book):
    apply(book)
    data = {"action": "soft_delete_selected", "_selected_action": [book.product.pk]}
    page = staff_client.post(PRODUCTS, data).content.decode()
    assert "its 1 loan(s) keep the terms they have" in page
    assert not LoanProduct.objects.get(pk=book.product.pk).is_deleted
    staff_client.post(PRODUCTS, {**data, "post": "yes"})
    assert LoanProduct.all_objects.get(pk=book.product.pk).is_deleted


# --- loans: list -------------------------------------------------------------------------------


def test_loans_list_shows_what_staff_scan(staff_client, book):
    pending = apply(book, "900")
    active = active_loan(book, "1200", customer=book.bob, account=book.bobs)
    rows = listed(staff_client.get(LOANS))
    assert rows[active.pk] == {
        "reference": active.reference,
        "borrower": f"Bob Lindqvist ({book.bob.reference})",
        "product": str(book.product),
        "shown_principal": "1,200.00 EUR",
        "status": "Active",
        "shown_outstanding": rows[active.pk]["shown_outstanding"],
        "days_past_due": "0",
    }
    assert Decimal(rows[active.pk]["shown_outstanding"].replace(",", "")) > Decimal("1200")
    assert rows[pending.pk]["shown_outstanding"] == "—"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status__exact=pending_approval", {"pending"}),
        ("status__exact=active", {"active", "late"}),
        ("arrears=30", {"late"}),
        ("arrears=current", {"pending", "active"}),
        ("q=Lindqvist", {"late"}),
        ("q=LN-000001", {"pending"}),
    ],
)
def test_loans_filters_and_search(staff_client, book, query, expected):
    loans = {"pending": apply(book, "900"), "active": active_loan(book)}
    loans["late"] = active_loan(book, customer=book.bob, account=book.bobs)
    Loan.objects.filter(pk=loans["late"].pk).update(days_past_due=45)
    rows = listed(staff_client.get(f"{LOANS}?{query}"))
    assert set(rows) == {loans[name].pk for name in expected}


@pytest.mark.parametrize("count", [3, 30])
def test_loans_changelist_queries_do_not_grow_with_rows(
    staff_client, book, django_assert_max_num_queries, count
):
    for _ in range(count):
        active_loan(book, "600")
    with django_assert_max_num_queries(LOANS_QUERY_BUDGET):
        assert len(listed(staff_client.get(LOANS))) == count


def test_the_application_form_finds_accounts_by_autocomplete(staff_client, book):
    response = staff_client.get(
        "/admin/autocomplete/",
        {"term": "Okafor", "app_label": "lending", "model_name": "loan", "field_name": "account"},
    )
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [str(book.janes.pk)]


# --- loans: the page ---------------------------------------------------------------------------


def test_loan_page_shows_schedule_repayments_collateral_and_loan_to_value(staff_client, book):
    loan = active_loan(book, "1200")
    services.repay_loan(loan=loan, amount=Decimal("100"), by=CLERK)
    services.add_collateral(
        loan=loan,
        type="vehicle",
        description="Bicycle",
        value=Decimal("2400"),
        currency="EUR",
        valuation_date=datetime.date(2026, 1, 5),
    )
    html = staff_client.get(url_of(loan)).content.decode()
    assert html.count('class="field-number"') == 3  # the schedule
    assert "Repayments (newest 20 first)" in html and ">100.00<" in html
    assert "Bicycle" in html and "2,400.00 EUR" in html
    owed = fresh(loan).outstanding_principal
    assert f"{(owed / 2400 * 100).quantize(Decimal('0.1'))} %" in html  # loan-to-value
    assert "Payoff today" in html
    assert 'name="_save"' not in html  # read-only: it changes by its decisions


def test_the_payoff_on_a_chosen_date_by_component(staff_client, book):
    loan = active_loan(book, "1200")
    page = url_of(loan, "payoff")
    assert page in staff_client.get(url_of(loan)).content.decode()  # linked from "payoff today"
    later = loan.disbursed_on + datetime.timedelta(days=45)
    response = staff_client.get(page, {"on": later.isoformat()})
    assert response.status_code == 200
    expected = selectors.payoff(fresh(loan), on=later)
    shown = dict(response.context["rows"])
    assert shown["Total"] == f"{expected['total']:,.2f} EUR"
    assert shown["Interest"] == f"{expected['interest']:,.2f} EUR"
    assert expected["total"] > selectors.payoff(fresh(loan), on=loan.disbursed_on)["total"]
    before = loan.disbursed_on - datetime.timedelta(days=1)
    refused = staff_client.get(page, {"on": before.isoformat()})
    assert refused.status_code == 200 and not refused.context["rows"]
    assert "was disbursed on" in refused.content.decode()
    malformed = staff_client.get(page, {"on": "31/02/2026"})
    assert malformed.status_code == 200 and not malformed.context["rows"]
    assert malformed.context["form"].errors["on"]


def test_loan_history_page(staff_client, book):
    loan = apply(book)
    services.approve_loan(loan=loan, by="user:hana")
    html = staff_client.get(f"{LOANS}{loan.pk}/history/").content.decode()
    assert "hana (staff)" in html and "pending_approval → approved" in html


def test_apply_for_a_loan_from_the_add_page(staff_client, book):
    page = staff_client.get(f"{LOANS}add/").content.decode()
    data = {
        **form_fields(page),
        "customer": book.jane.pk,
        "product": book.product.pk,
        "account": book.janes.pk,
        "principal": "5000",
        "annual_interest_rate": "9",
        "number_of_installments": "12",
        "repayment_frequency": "monthly",
    }
    response = staff_client.post(f"{LOANS}add/", data)
    assert response.status_code == 302
    loan = Loan.objects.get()
    assert (loan.status, loan.submitted_by, loan.principal) == (
        "pending_approval",
        "user:hana",
        Decimal("5000"),
    )


def test_an_application_outside_the_limits_is_a_form_error(staff_client, book):
    page = staff_client.get(f"{LOANS}add/").content.decode()
    data = {
        **form_fields(page),
        "customer": book.jane.pk,
        "product": book.product.pk,
        "account": book.janes.pk,
        "principal": "50000",
        "annual_interest_rate": "9",
        "number_of_installments": "12",
        "repayment_frequency": "monthly",
    }
    response = staff_client.post(f"{LOANS}add/", data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "principal" in errors and "20000" in str(errors["principal"]).replace(",", "")
    assert not Loan.objects.exists()


# --- decisions ---------------------------------------------------------------------------------


def test_approve_action_refuses_the_submitter_by_message(staff_client, book):
    """Four-eyes: hana submitted one application and may not approve it; the other is
    approved. The refusal is a message naming the rule, never a 500."""
    own = apply(book, by="user:hana")
    other = apply(book, "800")
    response = staff_client.post(
        LOANS,
        {"action": "approve", "_selected_action": [own.pk, other.pk], "index": "0"},
        follow=True,
    )
    assert response.status_code == 200
    assert successes_of(response) == ["Approved 1 loan."]
    [refusal] = errors_of(response)
    assert own.reference in refusal and "Four-eyes" in refusal
    assert Loan.objects.get(pk=own.pk).status == "pending_approval"
    assert Loan.objects.get(pk=other.pk).approved_by == "user:hana"


def test_reject_action_asks_for_a_reason_then_rejects_each_it_may(staff_client, book):
    own = apply(book, by="user:hana")
    other = apply(book, "800")
    selected = {"action": "reject", "_selected_action": [own.pk, other.pk], "index": "0"}
    page = staff_client.post(LOANS, selected)
    html = page.content.decode()
    assert page.status_code == 200 and "Reject these applications?" in html
    assert "The application for 800.00 EUR ends" in html and 'name="reason"' in html
    unexplained = staff_client.post(LOANS, {**selected, "post": "yes"})
    assert (
        unexplained.status_code == 200 and "This field is required." in unexplained.content.decode()
    )
    assert Loan.objects.filter(status="rejected").count() == 0  # nothing before a reason
    response = staff_client.post(
        LOANS, {**selected, "post": "yes", "reason": "Income not verified"}, follow=True
    )
    assert successes_of(response) == ["Rejected 1 loan."]
    [refusal] = errors_of(response)
    assert own.reference in refusal and "Four-eyes" in refusal
    rejected = Loan.objects.get(pk=other.pk)
    assert (rejected.status, rejected.decision_reason) == ("rejected", "Income not verified")
    assert Loan.objects.get(pk=own.pk).status == "pending_approval"


def test_approve_and_disburse_from_the_loan_page(staff_client, book):
    loan = apply(book, "1000")
    page = staff_client.get(url_of(loan)).content.decode()
    assert "decide/approve" in page and "decide/reject" in page
    assert "decide/disburse" not in page
    response = staff_client.post(url_of(loan, "decide/approve"), follow=True)
    assert successes_of(response) == ["Approved 1 loan."]
    page = staff_client.get(url_of(loan)).content.decode()
    key = form_fields(page)["idempotency_key"]
    for _ in range(2):  # a double click disburses once
        response = staff_client.post(url_of(loan, "decide/disburse"), {"idempotency_key": key})
        assert response.status_code == 302
    loan = fresh(loan)
    assert loan.status == "active" and loan.disbursement_journal is not None
    assert Journal.objects.filter(kind="loan_disbursement").count() == 1
    balance = Account.objects.with_balances().get(pk=book.janes.pk).balance
    assert balance == Decimal("300") + 1000 - 10  # principal in, 1 % fee out


def test_the_submitter_approving_from_the_page_gets_the_message(staff_client, book):
    loan = apply(book, by="user:hana")
    response = staff_client.post(url_of(loan, "decide/approve"), follow=True)
    assert response.status_code == 200
    assert errors_of(response) == [
        f"{loan.reference} · Jane Okafor: Four-eyes rule: user:hana submitted "
        f"{loan.reference} and cannot also decide it."
    ]
    assert Loan.objects.get(pk=loan.pk).status == "pending_approval"


def test_approve_is_a_post(staff_client, book):
    loan = apply(book)
    assert staff_client.get(url_of(loan, "decide/approve")).status_code == 405


def test_reject_asks_for_a_reason_and_applies_four_eyes(staff_client, book):
    own = apply(book, by="user:hana")
    response = staff_client.post(url_of(own, "decide/reject"), {"reason": "Too risky"})
    assert response.status_code == 200
    assert "Four-eyes rule" in response.content.decode()
    other = apply(book)
    assert staff_client.post(url_of(other, "decide/reject"), {"reason": ""}).status_code == 200
    response = staff_client.post(url_of(other, "decide/reject"), {"reason": "Too risky"})
    assert response.status_code == 302
    other = Loan.objects.get(pk=other.pk)
    assert (other.status, other.decision_reason, other.decided_by) == (
        "rejected",
        "Too risky",
        "user:hana",
    )


def test_disbursing_a_pending_loan_is_refused(staff_client, book):
    loan = apply(book)
    response = staff_client.post(
        LOANS, {"action": "disburse", "_selected_action": [loan.pk], "index": "0"}, follow=True
    )
    assert response.status_code == 200
    assert len(errors_of(response)) == 1
    assert Loan.objects.get(pk=loan.pk).status == "pending_approval"


def test_repayment_form_repays_through_the_service(staff_client, book):
    loan = active_loan(book, "1200")
    url = url_of(loan, "decide/repay")
    key = form_fields(staff_client.get(url).content.decode())["idempotency_key"]
    for _ in range(2):  # a resubmitted page repays once
        response = staff_client.post(url, {"amount": "150.00", "idempotency_key": key})
        assert response.status_code == 302
    assert Repayment.objects.get(loan=loan).amount == Decimal("150")
    messages = successes_of(staff_client.get(url_of(loan)))
    assert messages == [f"Repaid 150.00 EUR on {loan.reference}."] * 2


@pytest.mark.parametrize("amount", ["-5", "abc", "1.234", "99999"])
def test_bad_or_refused_repayments_are_errors_on_the_form(staff_client, book, amount):
    loan = active_loan(book, "1200")
    url = url_of(loan, "decide/repay")
    key = form_fields(staff_client.get(url).content.decode())["idempotency_key"]
    response = staff_client.post(url, {"amount": amount, "idempotency_key": key})
    assert response.status_code == 200
    assert response.context["form"].errors
    assert not Repayment.objects.exists()


def test_the_latest_repayment_is_reversed_from_the_loans_page_after_a_tick(staff_client, book):
    loan = active_loan(book, "1200")
    url = url_of(loan, "decide/reverse_repayment")
    assert url not in staff_client.get(url_of(loan)).content.decode()  # nothing to reverse yet
    first = services.repay_loan(loan=loan, amount="100.00")
    latest = services.repay_loan(loan=loan, amount="50.00")
    assert url in staff_client.get(url_of(loan)).content.decode()  # a button on the page
    assert "Reverse 50.00 EUR received on" in staff_client.get(url).content.decode()
    response = staff_client.post(url, {"_submit": "Reverse"})  # not ticked: nothing happens
    assert response.status_code == 200 and response.context["form"].errors
    assert Repayment.objects.get(pk=latest.pk).reversed_at is None
    assert staff_client.post(url, {"confirm": "on"}).status_code == 302
    assert Repayment.objects.get(pk=latest.pk).reversal_journal.kind == "reversal"
    assert successes_of(staff_client.get(url_of(loan))) == [
        f"Reversed the repayment of 50.00 EUR received on {latest.received_on.isoformat()} "
        f"on {loan.reference}."
    ]
    assert staff_client.post(url, {"confirm": "on"}).status_code == 302  # then the one before
    assert Repayment.objects.get(pk=first.pk).reversed_at is not None
    assert url not in staff_client.get(url_of(loan)).content.decode()  # none left standing
    response = staff_client.post(url, {"confirm": "on"})
    assert response.status_code == 200
    assert "no repayment to reverse" in response.content.decode()


def test_write_off_asks_first_then_writes_off(staff_client, book):
    loan = active_loan(book, "1200")
    url = url_of(loan, "decide/write_off")
    page = staff_client.get(url)
    html = page.content.decode()
    assert page.status_code == 200 and "Write off these loans?" in html
    assert "1,200.00 EUR moves from the loan portfolio to write-off expense" in html
    assert Loan.objects.get(pk=loan.pk).status == "active"  # nothing before "Yes"
    response = staff_client.post(url, {"post": "yes", "_selected_action": [loan.pk]})
    assert response.status_code == 302
    loan = Loan.objects.get(pk=loan.pk)
    assert loan.status == "written_off" and loan.write_off_journal.kind == "write_off"


def test_add_collateral_form(staff_client, book):
    loan = apply(book)
    url = url_of(loan, "decide/add_collateral")
    data = {
        "type": "guarantee",
        "description": "Guarantee",
        "value": "1000",
        "currency": "EUR",
        "valuation_date": "2026-01-05",
    }
    response = staff_client.post(url, data)
    assert response.status_code == 200 and response.context["form"].errors  # no guarantor
    response = staff_client.post(url, {**data, "guarantor": book.bob.pk})
    assert response.status_code == 302
    assert Collateral.objects.get(loan=loan).guarantor == book.bob


def test_decisions_on_another_banks_loan_are_404(staff_client, book, other_tenant):
    with tenant_context(other_tenant):
        product = services.create_product(**PERSONAL)
        customer = ActiveCustomerFactory(tenant=other_tenant)
        account = funded_account(other_tenant, "0", customer=customer)
        theirs = services.apply_for_loan(
            customer=customer,
            product=product,
            account=account,
            principal=Decimal("1000"),
            annual_interest_rate=Decimal("10"),
            number_of_installments=3,
            repayment_frequency="monthly",
            by=CLERK,
        )
    for action in ("decide/approve", "decide/repay", "decide/write_off", "history"):
        assert staff_client.post(url_of(theirs, action)).status_code == 404, action
    assert staff_client.get(url_of(theirs)).status_code == 302  # Django's "no such object"
    with tenant_context(other_tenant):
        assert Loan.objects.get(pk=theirs.pk).status == "pending_approval"


def test_view_only_staff_get_no_buttons_and_cannot_decide(staff_client, book):
    loan = apply(book)
    staff_client.user.user_permissions.set(Permission.objects.filter(codename="view_loan"))
    html = staff_client.get(url_of(loan)).content.decode()
    assert "decide/approve" not in html
    assert staff_client.post(url_of(loan, "decide/approve")).status_code == 403
    assert Loan.objects.get(pk=loan.pk).status == "pending_approval"


# --- portfolio at risk -------------------------------------------------------------------------


def test_par_report_page(staff_client, book):
    """Bob's loan fell due 35 days ago and is unpaid (its schedule moved back to say so):
    PAR 1 and PAR 30 are its share of the outstanding principal, PAR 60 and 90 nothing."""
    current = active_loan(book, "1000")
    late = active_loan(book, "3000", customer=book.bob, account=book.bobs)
    today = timezone.localdate()
    shift = late.installments.get(number=1).due_date - (today - datetime.timedelta(days=35))
    Installment.objects.filter(loan=late).update(due_date=F("due_date") - shift)
    response = staff_client.get(f"{LOANS}par/", {"on": today.isoformat()})
    html = response.content.decode()
    assert response.status_code == 200 and "Portfolio at risk" in html
    outstanding = fresh(current).outstanding_principal + fresh(late).outstanding_principal
    late_share = (100 * fresh(late).outstanding_principal / outstanding).quantize(Decimal("0.01"))
    [row] = response.context["rows"]
    assert (row["name"], row["loans"], row["outstanding"]) == ("Personal loan", 2, "4,000.00")
    assert [ratio for _amount, ratio in row["figures"]] == [
        late_share,
        late_share,
        Decimal("0.00"),
        Decimal("0.00"),
    ]
    assert row["figures"][0][0] == "3,000.00"
    assert response.context["totals"][0]["name"] == "Total EUR"
    earlier = staff_client.get(f"{LOANS}par/", {"on": (today - datetime.timedelta(days=40))})
    assert earlier.context["rows"] == []  # nothing was disbursed yet


@pytest.mark.parametrize("query", ["on=not-a-date", "on=2026-02-30", "on=", "x=1"])
def test_par_report_with_odd_dates_never_answers_500(staff_client, book, query):
    response = staff_client.get(f"{LOANS}par/?{query}")
    assert response.status_code == 200
    assert response.context["report"].on <= timezone.localdate()


# --- every page renders, under the strict CSP ---------------------------------------------


@pytest.mark.parametrize(
    "query",
    ["status__exact=nonsense", "arrears=x", "o=99", "p=99999", "q=%00", "product__id__exact=x"],
)
def test_odd_query_strings_never_answer_500(staff_client, book, query):
    assert staff_client.get(f"{LOANS}?{query}").status_code in {200, 302, 400}


def test_lending_pages_carry_no_inline_script_or_style(staff_client, book):
    loan = active_loan(book, "1200")
    pending = apply(book)
    pages = [
        PRODUCTS,
        f"{PRODUCTS}add/",
        f"{PRODUCTS}{book.product.pk}/change/",
        f"{PRODUCTS}{book.product.pk}/history/",
        LOANS,
        f"{LOANS}add/",
        url_of(loan),
        url_of(pending),
        url_of(loan, "history"),
        url_of(loan, "decide/repay"),
        url_of(loan, "decide/write_off"),
        url_of(pending, "decide/reject"),
        url_of(pending, "decide/add_collateral"),
        f"{LOANS}par/",
        "/admin/lending/collateral/",
    ]
    for url in pages:
        response = staff_client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert not INLINE_SCRIPT.search(html), url
        assert " style=" not in html and "<style" not in html, url
