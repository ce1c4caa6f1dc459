"""A teller's money movements in a real browser: find the account, deposit (a refused amount
first), read the new balance and posting, then reverse the deposit from its journal through the
confirmation page."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission, User

from accounts.models import Account, Journal
from tests.accounts.factories import ActiveCustomerFactory, funded_account
from tests.e2e.conftest import log_in

expect = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (requirements-dev.txt)"
).expect

ACCOUNTS = "/admin/accounts/account/"


@pytest.fixture
def teller(harbour):
    """hana, a clerk who may also work on accounts and move money."""
    user = User.objects.get(username="hana")
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label__in=["accounts", "audit"])
    )
    return user


def balance(account):
    return Account.objects.with_balances().get(pk=account.pk).balance


def test_a_deposit_and_its_reversal(page, live_server, harbour, teller):
    jane = ActiveCustomerFactory(tenant=harbour, first_name="Jane", last_name="Okafor")
    account = funded_account(harbour, "100.00", customer=jane)
    log_in(page, live_server, "hana")

    page.goto(f"{live_server.url}{ACCOUNTS}")
    page.fill("#searchbar", "Okafor")
    page.press("#searchbar", "Enter")
    row = page.locator("#result_list tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator(".field-shown_balance")).to_have_text("100.00")
    page.shots("accounts")
    row.locator(".field-reference a").click()
    expect(page.locator(".field-shown_available_balance .readonly")).to_have_text("100.00")

    page.click("a.lifecycle-link:text('Deposit…')")
    expect(page.locator("h1")).to_contain_text(f"Deposit into {account.reference} · Jane Okafor")
    page.fill("#id_amount", "12.345")
    page.fill("#id_description", "Cash at the counter")
    page.click("input[type=submit][value=Deposit]")
    expect(page.locator(".errorlist")).to_contain_text("EUR amounts have at most 2 decimal places.")
    expect(page.locator("#id_description")).to_have_value("Cash at the counter")
    assert balance(account) == Decimal("100")
    page.shots("deposit-refused")

    page.fill("#id_amount", "250.00")
    page.click("input[type=submit][value=Deposit]")
    expect(page.locator(".messagelist .success")).to_have_text(
        f"Deposited 250.00 EUR into {account.reference}."
    )
    expect(page.locator(".field-shown_balance .readonly")).to_have_text("350.00")
    newest = page.locator(".inline-group tbody tr.has_original").first
    expect(newest.locator(".field-signed_amount")).to_have_text("+250.00")
    expect(newest.locator(".field-description")).to_have_text("Cash at the counter")
    assert balance(account) == Decimal("350")
    page.shots("deposited")

    deposit = Journal.objects.get(description="Cash at the counter")
    newest.locator(".field-journal_link a").click()
    expect(page.locator(".field-public_id .readonly")).to_have_text(str(deposit.public_id))
    page.click("a.lifecycle-link:text('Reverse…')")
    expect(page.locator("h1")).to_have_text("Reverse this deposit?")
    preview = page.locator(".reversal-preview tbody tr")
    expect(preview).to_have_count(2)
    expect(page.locator(".reversal-preview")).to_contain_text("-250.00 EUR")
    page.fill("#id_description", "Counted twice")
    assert not Journal.objects.filter(reversal_of=deposit).exists()  # nothing before "Yes"
    page.shots("confirm-reversal")
    page.click("#confirm")
    expect(page.locator(".messagelist .success")).to_have_text(
        f"Reversed journal {deposit.public_id}."
    )
    expect(page.locator(".field-reversal .readonly")).to_contain_text("Reverses")
    assert Journal.objects.get(reversal_of=deposit).description == "Counted twice"
    assert balance(account) == Decimal("100")

    page.goto(f"{live_server.url}{ACCOUNTS}{account.pk}/change/")
    expect(page.locator(".field-shown_balance .readonly")).to_have_text("100.00")
    newest = page.locator(".inline-group tbody tr.has_original").first
    expect(newest.locator(".field-kind")).to_have_text("Reversal")
    expect(newest.locator(".field-signed_amount")).to_have_text("-250.00")
    page.shots("reversed")
