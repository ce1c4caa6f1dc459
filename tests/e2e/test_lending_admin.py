"""Four-eyes in a real browser: the clerk who submitted an application may not approve it (the
page says why); a second staff user approves it and disburses it, and the loan page then shows
it active with its schedule, the principal credited to the customer's account. Applications
are rejected from the list with one reason, asked on the confirmation page."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission, User

from accounts.models import Account
from lending import services
from lending.models import Loan
from tests.accounts.factories import ActiveCustomerFactory, funded_account
from tests.e2e.conftest import clerk, log_in

expect = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (requirements-dev.txt)"
).expect

LOANS = "/admin/lending/loan/"


def lender(user):
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label__in=["lending", "accounts", "audit"])
    )
    return user


@pytest.fixture
def application(harbour):
    """hana's application for Jane's loan; mia, a second lending officer."""
    hana = lender(User.objects.get(username="hana"))
    lender(clerk(harbour, "mia"))
    jane = ActiveCustomerFactory(tenant=harbour, first_name="Jane", last_name="Okafor")
    account = funded_account(harbour, "100.00", customer=jane)
    product = services.create_product(
        name="Personal loan",
        currency="EUR",
        min_principal=Decimal("500"),
        max_principal=Decimal("20000"),
        min_interest_rate=Decimal("5"),
        max_interest_rate=Decimal("15"),
        min_installments=3,
        max_installments=36,
        origination_fee_type="flat",
        origination_fee=Decimal("20"),
    )
    return services.apply_for_loan(
        customer=jane,
        product=product,
        account=account,
        principal=Decimal("2400"),
        annual_interest_rate=Decimal("9"),
        number_of_installments=6,
        repayment_frequency="monthly",
        by=hana,
    )


def test_a_second_staff_user_approves_and_disburses(page, live_server, application):
    loan, account = application, application.account
    log_in(page, live_server, "hana")
    page.goto(f"{live_server.url}{LOANS}")
    row = page.locator("#result_list tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator(".field-status")).to_have_text("Pending Approval")
    page.shots("loans")
    row.locator(".field-reference a").click()
    page.click("form.lifecycle button:text('Approve')")
    expect(page.locator(".messagelist .error")).to_contain_text(
        f"Four-eyes rule: user:hana submitted {loan.reference} and cannot also decide it."
    )
    assert Loan.objects.get(pk=loan.pk).status == "pending_approval"
    page.shots("four-eyes-refused")

    page.context.clear_cookies()
    log_in(page, live_server, "mia")
    page.goto(f"{live_server.url}{LOANS}{loan.pk}/change/")
    expect(page.locator(".field-status .readonly")).to_have_text("Pending Approval")
    page.click("form.lifecycle button:text('Approve')")
    expect(page.locator(".messagelist .success")).to_have_text("Approved 1 loan.")
    expect(page.locator(".fieldBox.field-approver .readonly")).to_have_text("mia (staff)")
    page.shots("approved")

    page.click("form.lifecycle button:text('Disburse')")
    expect(page.locator(".messagelist .success")).to_have_text("Disbursed 1 loan.")
    expect(page.locator(".field-status .readonly")).to_have_text("Active")
    schedule = page.locator(".inline-group").first.locator("tbody tr.has_original")
    expect(schedule).to_have_count(6)
    expect(page.locator(".fieldBox.field-disbursement a")).to_have_text("Journal")
    page.shots("disbursed")
    balance = Account.objects.with_balances().get(pk=account.pk).balance
    assert balance == Decimal("100") + 2400 - 20

    page.goto(f"{live_server.url}{LOANS}par/")
    expect(page.locator(".par-report tbody tr")).to_have_count(1)
    expect(page.locator(".par-report tbody th")).to_have_text("Personal loan")
    page.shots("par")


def test_applications_are_rejected_from_the_list_with_one_reason(page, live_server, application):
    """The reason is asked on the confirmation page (the browser refuses an empty one), then
    kept with the loan; nothing changes before it is given."""
    loan = application
    log_in(page, live_server, "mia")
    page.goto(f"{live_server.url}{LOANS}")
    page.locator("#result_list tbody tr input.action-select").check()
    page.select_option("select[name=action]", "reject")
    page.click("button[name=index]")
    expect(page.locator("h1")).to_have_text("Reject these applications?")
    expect(page.locator(".confirm-consequences")).to_contain_text(
        "The application for 2,400.00 EUR ends"
    )
    page.click("#confirm")  # no reason: the required field stops the submit
    assert Loan.objects.get(pk=loan.pk).status == "pending_approval"
    page.shots("reject-asks-a-reason")
    page.fill("textarea[name=reason]", "Income not verified")
    page.click("#confirm")
    expect(page.locator(".messagelist .success")).to_have_text("Rejected 1 loan.")
    expect(page.locator("#result_list .field-status")).to_have_text("Rejected")
    rejected = Loan.objects.get(pk=loan.pk)
    assert (rejected.status, rejected.decision_reason) == ("rejected", "Income not verified")
    page.shots("rejected")
