"""A clerk's day in a real browser: log in, create a customer (a validation error first), edit
it and read the change in its history, build an ownership chain inline and read the UBO panel,
search a misspelt name, soft-delete with confirmation and restore, and the other bank's clerk
refused at a direct URL."""

import datetime
import re

import pytest
from django.utils import timezone

from core.services import issue_partner_key
from customers.models import Customer, CustomerRelationship
from tests.conftest import postgres_only
from tests.customers.factories import BusinessFactory, CustomerFactory, ShareholdingFactory
from tests.e2e.conftest import log_in

expect = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (requirements-dev.txt)"
).expect

CHANGELIST = "/admin/customers/customer/"


def change_url(live_server, customer):
    return f"{live_server.url}{CHANGELIST}{customer.pk}/change/"


def fits_the_screen(page):
    """No horizontal scrolling of the changelist and no reference broken over two lines."""
    return page.evaluate(
        """() => {
            const results = document.querySelector('#changelist .results');
            const refs = [...document.querySelectorAll('td.field-reference, th.field-reference')];
            const oneLine = refs.every(c => c.getClientRects().length === 1
                && c.scrollHeight <= parseFloat(getComputedStyle(c).lineHeight) * 1.5 + 16);
            return results.scrollWidth <= results.clientWidth && oneLine;
        }"""
    )


def test_create_with_an_error_first_then_edit_and_read_the_history(page, live_server, harbour):
    log_in(page, live_server, "hana")
    expect(page.locator("#working-in")).to_have_text("Working in: Harbour Savings")
    app_names = [
        t.strip() for t in page.locator("#content-main .module caption").all_text_contents()
    ]
    assert app_names[0] == "Customers"  # staff work first, named for it
    page.shots("index")

    page.goto(f"{live_server.url}{CHANGELIST}add/")
    person, business = (
        page.locator("fieldset.customer-type-individual"),
        page.locator("fieldset.customer-type-business"),
    )
    expect(person).to_be_hidden()  # no type chosen yet: neither type's section
    page.select_option("#id_type", "business")
    expect(business).to_be_visible()
    expect(person).to_be_hidden()
    page.select_option("#id_type", "individual")
    expect(person).to_be_visible()
    expect(business).to_be_hidden()

    page.fill("#id_first_name", "Eva")
    page.fill("#id_last_name", "Novak")
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    page.fill("#id_date_of_birth", tomorrow.isoformat())
    page.fill("#id_national_id", "CZ9005171234")
    page.fill("#id_email", "eva.novak@example.com")
    page.click("input[name=_continue]")
    expect(page.locator(".errorlist")).to_contain_text("The date of birth cannot be in the future.")
    expect(page.locator("#id_first_name")).to_have_value("Eva")  # nothing typed is lost
    assert not Customer.objects.exists()
    page.shots("validation-error")

    page.fill("#id_date_of_birth", "1990-05-17")
    page.fill("#id_national_id", "CZ9005171234")  # write-only: typed again, never sent back
    page.click("input[name=_continue]")
    expect(page.locator(".messagelist .success")).to_contain_text("was added successfully")
    customer = Customer.objects.get(email="eva.novak@example.com")
    assert customer.national_id == "CZ9005171234"
    assert "CZ9005171234" not in page.content()
    expect(page.locator(".field-masked_national_id .readonly")).to_have_text("********1234")
    page.shots("created")

    page.click("form.lifecycle button:text('Verify')")
    expect(page.locator(".messagelist")).to_contain_text("KYC verified for 1 customer.")
    page.click("form.lifecycle button:text('Activate')")
    expect(page.locator(".messagelist")).to_contain_text("Activated 1 customer.")
    customer.refresh_from_db()
    assert (customer.kyc_status, customer.status) == ("verified", "active")

    page.fill("#id_email", "eva@novak.example")
    page.click("input[name=_continue]")
    expect(page.locator(".messagelist .success")).to_contain_text("was changed successfully")
    page.click("a.historylink")
    newest = page.locator("#change-history tbody tr").first
    expect(newest.locator(".history-actor")).to_have_text("hana (staff)")
    expect(newest.locator(".history-changes")).to_have_text(
        re.compile(r"email:\s+eva\.novak@example\.com → eva@novak\.example")
    )
    page.shots("history")


def test_ownership_chain_built_inline_and_the_ubo_panel(page, live_server, harbour):
    jane = CustomerFactory(tenant=harbour, first_name="Jane", last_name="Okafor")
    holdco = BusinessFactory(tenant=harbour, legal_name="Okafor Holdings Ltd")
    acme = BusinessFactory(tenant=harbour, legal_name="Acme Trading Ltd")
    log_in(page, live_server, "hana")

    def add_shareholder(company, holder_name, percentage):
        page.goto(change_url(live_server, company))
        page.click(".inline-group .add-row a")
        row = page.locator(".inline-group tr.form-row.dynamic-relationships").last
        row.locator("select[name$='-type']").select_option("shareholder")
        row.locator(".select2-selection").click()
        page.fill(".select2-search__field", holder_name.split()[0])
        page.click(f".select2-results__option:has-text('{holder_name}')")
        row.locator("input[name$='-ownership_percentage']").fill(percentage)
        page.click("input[name=_continue]")
        expect(page.locator(".messagelist .success")).to_contain_text("was changed successfully")

    add_shareholder(holdco, "Jane Okafor", "60")
    add_shareholder(acme, "Okafor Holdings Ltd", "50")
    expect(page.locator("tr.has_original .field-holder_and_role").first).to_have_text(
        "Okafor Holdings Ltd — shareholder, 50 %"
    )
    expect(page.locator("input[name='relationships-0-ownership_percentage']")).to_have_value("50")
    panel = page.locator(".field-beneficial_owners_panel")
    expect(panel).to_contain_text("at least 25 % (the UBO threshold)")
    expect(panel.locator("tbody tr")).to_have_count(1)
    expect(panel.locator("tbody tr td").nth(2)).to_have_text("30 %")  # 60 % of 50 %
    expect(panel).to_contain_text(f"{jane.reference} → {holdco.reference} → {acme.reference}")
    page.shots("ubo-panel")

    page.goto(change_url(live_server, jane))
    expect(page.locator(".field-roles_held_panel")).to_contain_text("Okafor Holdings Ltd")
    expect(page.locator(".field-roles_held_panel")).to_contain_text("shareholder, 60 %")
    page.shots("roles-held")


@postgres_only
def test_search_finds_a_misspelt_name(page, live_server, harbour):
    jansen = CustomerFactory(tenant=harbour, first_name="Pieter", last_name="Jansen")
    CustomerFactory(tenant=harbour, first_name="Maria", last_name="Lopez")
    log_in(page, live_server, "hana")
    page.goto(f"{live_server.url}{CHANGELIST}")
    page.fill("#searchbar", "Jansn")
    page.press("#searchbar", "Enter")
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first.locator(".field-reference")).to_have_text(jansen.reference)
    page.shots("search")


def test_soft_delete_is_confirmed_and_restore_says_what_stays_ended(page, live_server, harbour):
    bob = CustomerFactory(tenant=harbour, first_name="Bob", last_name="Smith")
    acme = BusinessFactory(tenant=harbour, legal_name="Acme Trading Ltd")
    ShareholdingFactory(customer=acme, related_customer=bob, ownership_percentage=25)
    CustomerFactory.create_batch(12, tenant=harbour)
    log_in(page, live_server, "hana")
    page.goto(f"{live_server.url}{CHANGELIST}")
    assert fits_the_screen(page)
    page.shots("changelist")

    page.check(f"input[name=_selected_action][value='{bob.pk}']")
    page.select_option("select[name=action]", "soft_delete_selected")
    page.click("button[name=index]")
    expect(page.locator("h1")).to_have_text("Soft delete these customers?")
    expect(page.locator(".confirm-list")).to_contain_text(str(bob))
    expect(page.locator(".confirm-list")).to_contain_text(
        f"Ends relationship: Bob Smith ({bob.reference}) — shareholder of Acme Trading Ltd "
        f"({acme.reference}), 25 %"
    )
    assert Customer.objects.filter(pk=bob.pk).exists()  # nothing happens before "Yes"
    page.shots("confirm-delete")
    page.click("#confirm")
    expect(page.locator(".messagelist .success")).to_have_text("Soft-deleted 1 customer.")
    assert not Customer.objects.filter(pk=bob.pk).exists()

    page.goto(change_url(live_server, bob))
    expect(page.locator(".record-banner")).to_contain_text("Deleted on")
    expect(page.locator(".record-banner")).to_contain_text("by hana (staff): restore to edit.")
    expect(page.locator("#id_first_name")).to_have_count(0)  # read-only, not a failing form
    expect(page.locator(".field-first_name .readonly")).to_have_text("Bob")
    page.shots("deleted-banner")
    page.click(".record-banner a:text('Restore…')")
    expect(page.locator(".confirm-list")).to_contain_text("Stays ended: Bob Smith")
    page.shots("confirm-restore")
    page.click("#confirm")
    expect(page.locator(".messagelist .success")).to_have_text("Restored 1 customer.")
    expect(page.locator(".record-banner")).to_have_count(0)
    expect(page.locator("#id_first_name")).to_have_value("Bob")
    assert Customer.objects.filter(pk=bob.pk).exists()
    assert not CustomerRelationship.objects.filter(related_customer=bob).exists()


def test_the_other_changelists_fit_the_screen(page, live_server, harbour):
    for n in range(6):
        ShareholdingFactory(
            customer=BusinessFactory(tenant=harbour, legal_name=f"Northern Star Holdings {n} Ltd"),
            related_customer=CustomerFactory(
                tenant=harbour, first_name="Alexandra", last_name=f"Featherstonehaugh-{n}"
            ),
            ownership_percentage="12.5",
        )
        issue_partner_key(
            tenant=harbour,
            name=f"Acme Pay reconciliation {n}",
            scopes=["customers:read", "customers:write"],
        )
    log_in(page, live_server, "hana")
    for name, url in (
        ("relationships", "/admin/customers/customerrelationship/?deleted=all"),
        ("partner-keys", "/admin/core/partnerkey/"),
    ):
        page.goto(f"{live_server.url}{url}")
        expect(page.locator("#result_list tbody tr")).to_have_count(6)
        assert fits_the_screen(page), name
        page.shots(name)


def test_the_other_banks_clerk_is_refused_at_a_direct_url(page, live_server, banks, harbour):
    bob = CustomerFactory(tenant=harbour, first_name="Bob", last_name="Smith")
    log_in(page, live_server, "noah")
    expect(page.locator("#working-in")).to_have_text("Working in: Northwind Lending")
    for url in (change_url(live_server, bob), f"{live_server.url}{CHANGELIST}{bob.pk}/history/"):
        page.goto(url)
        expect(page.locator("body")).not_to_contain_text("Smith")
        expect(page.locator("body")).to_contain_text(
            re.compile("doesn\u2019t exist|Not Found|not found")
        )
    page.shots("refused")


@pytest.fixture(autouse=True)
def _screenshots_are_taken(page):
    """Every test leaves at least one screenshot to look at."""
    yield
    if page.shots.count == 0:
        page.shots("end")
