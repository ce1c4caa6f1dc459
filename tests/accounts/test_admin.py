"""The ledger's back office as a staff user of `tenant` sees it: accounts (list, search,
filters, balances, inlines, actions, buttons, history), the staff forms that move money
(happy, refused, bad input, resubmitted), reversals with their confirmation page, and the
read-only journals, postings and holds, whose lists never count a whole table."""

import re
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import ERROR, SUCCESS
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.html import strip_tags

from accounts import services
from accounts.admin import CappedCountPaginator, NewestFirstFormSet
from accounts.models import Account, Hold, Journal, Posting
from core.context import system_scope, tenant_context
from tests.accounts.factories import AccountFactory, ActiveCustomerFactory, funded_account
from tests.core.test_security_headers import INLINE_SCRIPT
from tests.customers.test_admin import form_fields, listed, messages_of

pytestmark = pytest.mark.django_db

ACCOUNTS = "/admin/accounts/account/"
POSTINGS = "/admin/accounts/posting/"
JOURNALS = "/admin/accounts/journal/"
HOLDS = "/admin/accounts/hold/"
STAFF_ACTOR = "user:hana"

# One changelist page, whatever the number of rows on it: session, user, membership, tenant,
# permissions (2), the capped count, the rows (balance row and customer joined, holds summed
# in the same query).
ACCOUNTS_QUERY_BUDGET = 9
# The postings list: as above, plus the date drill-down's first and last date.
POSTINGS_QUERY_BUDGET = 10


def change_url(obj):
    return f"/admin/accounts/{obj._meta.model_name}/{obj.pk}/change/"


def cells(html, column):
    """The texts of an inline's column, top to bottom."""
    found = re.findall(rf'<td class="field-{column}">\s*<p>(.*?)</p>', html, re.S)
    return [strip_tags(text).strip() for text in found]


def rows_of(response):
    """The changelist's objects, in order (lists without actions have no row checkboxes)."""
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def errors_of(response):
    return [m for level, m in messages_of(response) if level == ERROR]


@pytest.fixture
def book(in_tenant):
    """Jane's current account (500.00, 50.00 held), Bob's (0), and another bank's account."""
    jane = ActiveCustomerFactory(tenant=in_tenant, first_name="Jane", last_name="Okafor")
    bob = ActiveCustomerFactory(tenant=in_tenant, first_name="Bob", last_name="Lindqvist")
    janes = funded_account(in_tenant, "500.00", customer=jane)
    bobs = AccountFactory(tenant=in_tenant, customer=bob)
    hold = services.place_hold(account=janes, amount=Decimal("50"), reason="Card authorisation")
    return SimpleNamespace(jane=jane, bob=bob, janes=janes, bobs=bobs, hold=hold)


@pytest.fixture
def theirs(other_tenant):
    return funded_account(other_tenant, "75.00")


def balance_of(account):
    account = Account.objects.with_balances().get(pk=account.pk)
    return account.balance, account.available_balance


# --- accounts: list, search, filters ------------------------------------------------------------


def test_changelist_shows_balances_and_marks_internal_accounts(staff_client, book, theirs):
    rows = listed(staff_client.get(ACCOUNTS))
    assert rows[book.janes.pk] == {
        "reference": book.janes.reference,
        "account_number": book.janes.account_number,
        "holder": "Jane Okafor",
        "product": "Current",
        "currency": "EUR",
        "status": "Active",
        "shown_balance": "500.00",
        "shown_available_balance": "450.00",
    }
    settlement = Account.objects.get(reference="SETTLEMENT-EUR")
    assert rows[settlement.pk]["holder"] == "Internal Settlement (cash) EUR"
    assert rows[settlement.pk]["shown_balance"] == "-500.00"
    assert theirs.pk not in rows
    assert 'class="internal-account"' in staff_client.get(ACCOUNTS).content.decode()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("kind=customer", {"janes", "bobs"}),
        ("status__exact=frozen", {"bobs"}),
        ("q=Okafor", {"janes"}),
        ("q=lindq", {"bobs"}),
    ],
)
def test_changelist_filters_and_search(staff_client, book, query, expected):
    services.freeze_account(account=book.bobs)
    rows = listed(staff_client.get(f"{ACCOUNTS}?{query}"))
    assert set(rows) == {getattr(book, name).pk for name in expected}


def test_search_by_reference_and_account_number(staff_client, book):
    for term in (book.bobs.reference, book.bobs.account_number):
        assert set(listed(staff_client.get(ACCOUNTS, {"q": term}))) == {book.bobs.pk}


def test_internal_filter_lists_the_ledger_accounts(staff_client, book):
    rows = listed(staff_client.get(ACCOUNTS, {"kind": "internal"}))
    assert {row["reference"] for row in rows.values()} == {
        "SETTLEMENT-EUR",
        "LOAN-PORTFOLIO-EUR",
        "INTEREST-INCOME-EUR",
        "FEE-INCOME-EUR",
        "PENALTY-INCOME-EUR",
        "WRITE-OFF-EXPENSE-EUR",
        "SUSPENSE-EUR",
    }


@pytest.mark.parametrize("count", [3, 30])
def test_accounts_changelist_queries_do_not_grow_with_rows(
    staff_client, in_tenant, django_assert_max_num_queries, count
):
    for _ in range(count):
        account = funded_account(in_tenant, "10.00")
        services.place_hold(account=account, amount=Decimal("1"), reason="card")
    with django_assert_max_num_queries(ACCOUNTS_QUERY_BUDGET):
        response = staff_client.get(ACCOUNTS)
    assert len(listed(response)) == count + 7  # and the internal accounts


# --- accounts: the account page ---------------------------------------------------------------


def test_account_page_shows_balances_read_only_and_the_newest_postings_first(staff_client, book):
    for day in range(NewestFirstFormSet.max_shown + 3):
        services.deposit(account=book.bobs, amount=Decimal(day + 1), description=f"d{day}")
    response = staff_client.get(change_url(book.bobs))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="overdraft_limit"' in html  # the one editable field
    assert 'name="currency"' not in html and 'name="status"' not in html
    balance = re.search(r'field-shown_balance">.*?<div class="readonly">(.*?)</div>', html, re.S)
    assert balance[1] == "276.00"  # 1 + 2 + ... + 23
    descriptions = cells(html, "description")
    assert descriptions == [f"d{n}" for n in range(22, 2, -1)]  # 20 newest, newest first
    assert "All postings of this account" in html
    assert f"{POSTINGS}?account__id__exact={book.bobs.pk}" in html


def test_account_page_lists_holds(staff_client, book):
    services.release_hold(hold=book.hold)
    services.place_hold(account=book.janes, amount=Decimal("20"), reason="Fuel station")
    html = staff_client.get(change_url(book.janes)).content.decode()
    reasons, statuses = cells(html, "reason"), cells(html, "shown_status")
    assert list(zip(reasons, statuses, strict=True)) == [
        ("Fuel station", "active"),
        ("Card authorisation", "released"),
    ]
    held = re.search(r'field-shown_held">.*?<div class="readonly">(.*?)</div>', html, re.S)
    assert held[1] == "20.00"


def test_add_account_opens_it_through_the_service(staff_client, book):
    carla = ActiveCustomerFactory(tenant=book.jane.tenant, first_name="Carla")
    add = staff_client.get(f"{ACCOUNTS}add/").content.decode()
    assert 'data-model-name="customer"' in add or "admin-autocomplete" in add  # autocomplete
    response = staff_client.post(
        f"{ACCOUNTS}add/",
        {"customer": carla.pk, "product": "savings", "currency": "EUR", "overdraft_limit": "0"},
    )
    assert response.status_code == 302
    account = Account.objects.get(customer=carla)
    assert re.fullmatch(r"ACC-\d{6}", account.reference)
    assert account.ledger_balance.balance == 0
    history = list(Account.history.filter(id=account.pk))
    assert [(row.action, row.actor) for row in history] == [("create", STAFF_ACTOR)]


def test_add_account_refused_for_an_unverified_customer_is_a_field_error(staff_client, in_tenant):
    prospect = ActiveCustomerFactory(tenant=in_tenant, kyc_status="pending")
    response = staff_client.post(
        f"{ACCOUNTS}add/",
        {"customer": prospect.pk, "product": "current", "currency": "EUR", "overdraft_limit": "0"},
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["customer"] == [
        f"{prospect.reference} cannot open an account: its KYC is pending, not verified."
    ]
    assert not Account.objects.filter(customer=prospect).exists()


def test_add_account_with_bad_input_rerenders(staff_client, book):
    response = staff_client.post(
        f"{ACCOUNTS}add/",
        {"customer": book.jane.pk, "product": "savings", "currency": "XXX", "overdraft_limit": "5"},
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "currency" in errors
    assert Account.objects.filter(customer=book.jane).count() == 1


def test_overdraft_limit_is_changed_through_the_service_and_in_the_history(staff_client, book):
    page = form_fields(staff_client.get(change_url(book.janes)).content.decode())
    page["overdraft_limit"] = "250.00"
    response = staff_client.post(change_url(book.janes), {**page, "_continue": "Save"})
    assert response.status_code == 302
    book.janes.refresh_from_db()
    assert book.janes.overdraft_limit == Decimal("250")
    history = staff_client.get(f"{change_url(book.janes)[: -len('change/')]}history/")
    html = history.content.decode()
    assert "hana (staff)" in html
    assert re.search(r"overdraft limit:</strong> \S+ → 250(\.0+)?</li>", html)


def test_a_limit_the_balance_is_below_is_refused_on_the_form(staff_client, book):
    services.update_account(account=book.bobs, changes={"overdraft_limit": Decimal("100")})
    services.withdraw(account=book.bobs, amount=Decimal("80"))
    page = form_fields(staff_client.get(change_url(book.bobs)).content.decode())
    page["overdraft_limit"] = "10"
    response = staff_client.post(change_url(book.bobs), {**page, "_continue": "Save"})
    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors() == [
        f"{book.bobs.reference} is overdrawn beyond a limit of 10.00; bring the balance up first."
    ]
    book.bobs.refresh_from_db()
    assert book.bobs.overdraft_limit == Decimal("100")


# --- accounts: freeze, unfreeze, close --------------------------------------------------------


def run_action(client, action, *accounts, confirmed=False):
    data = {"action": action, "_selected_action": [a.pk for a in accounts], "index": "0"}
    if confirmed:
        data["post"] = "yes"
    return client.post(ACCOUNTS, data, follow=True)


def test_freeze_and_unfreeze_actions(staff_client, book):
    response = run_action(staff_client, "freeze", book.janes, book.bobs)
    assert (SUCCESS, "Froze 2 accounts.") in messages_of(response)
    book.janes.refresh_from_db()
    assert book.janes.status == "frozen"
    row = Account.history.filter(id=book.janes.pk).order_by("-history_id").first()
    assert (row.action, row.actor, row.status) == ("update", STAFF_ACTOR, "frozen")
    response = run_action(staff_client, "unfreeze", book.janes)
    assert (SUCCESS, "Unfroze 1 account.") in messages_of(response)


def test_a_refused_transition_is_a_message_per_account(staff_client, book):
    services.freeze_account(account=book.bobs)
    response = run_action(staff_client, "unfreeze", book.janes, book.bobs)
    assert response.status_code == 200
    assert errors_of(response) == [
        f"{book.janes.reference} · Jane Okafor: {book.janes.reference} is active; it cannot "
        "unfreeze."
    ]
    assert (SUCCESS, "Unfroze 1 account.") in messages_of(response)


def test_close_asks_first_then_closes_only_an_empty_account(staff_client, book):
    confirm = run_action(staff_client, "close", book.janes, book.bobs)
    assert confirm.templates[0].name == "admin/ledgerline/confirm_action.html"
    html = confirm.content.decode()
    assert "Balance 500.00 EUR, held 50.00: refused unless both are zero." in html
    response = run_action(staff_client, "close", book.janes, book.bobs, confirmed=True)
    assert (SUCCESS, "Closed 1 account.") in messages_of(response)
    assert errors_of(response) == [
        f"{book.janes.reference} · Jane Okafor: {book.janes.reference} has a balance of "
        "500.00 EUR; only an account with a zero balance can be closed."
    ]
    book.bobs.refresh_from_db()
    assert (book.bobs.status, book.bobs.closed_on) == ("closed", timezone.localdate())
    page = staff_client.get(change_url(book.bobs)).content.decode()
    assert "Closed: nothing posts to this account again." in page
    assert 'name="overdraft_limit"' not in page  # read-only now


def lifecycle(account, name):
    return f"{ACCOUNTS}{account.pk}/lifecycle/{name}/"


def test_buttons_on_the_account_page(staff_client, book):
    html = staff_client.get(change_url(book.janes)).content.decode()
    for name in ("deposit", "withdraw", "transfer"):
        assert f'href="{ACCOUNTS}{book.janes.pk}/{name}/"' in html
    assert f'action="{lifecycle(book.janes, "freeze")}"' in html
    assert f'href="{lifecycle(book.janes, "close")}"' in html
    assert lifecycle(book.janes, "unfreeze") not in html
    assert staff_client.get(lifecycle(book.janes, "freeze")).status_code == 405
    response = staff_client.post(lifecycle(book.janes, "freeze"), follow=True)
    assert (SUCCESS, "Froze 1 account.") in messages_of(response)
    html = response.content.decode()
    assert "Frozen: nothing posts to this account until unfrozen." in html
    assert lifecycle(book.janes, "unfreeze") in html


def test_lifecycle_of_another_banks_account_is_404(staff_client, book, theirs):
    assert staff_client.post(lifecycle(theirs, "freeze")).status_code == 404
    assert staff_client.get(f"{ACCOUNTS}{theirs.pk}/deposit/").status_code == 404
    with tenant_context(theirs.tenant):
        theirs.refresh_from_db()
    assert theirs.status == "active"


def test_view_only_staff_get_no_buttons_and_cannot_post(staff_client, book):
    staff_client.user.user_permissions.set(
        Permission.objects.filter(codename__startswith="view_", content_type__app_label="accounts")
    )
    html = staff_client.get(change_url(book.janes)).content.decode()
    assert "/deposit/" not in html and "/lifecycle/" not in html
    assert staff_client.get(f"{ACCOUNTS}{book.janes.pk}/deposit/").status_code == 403
    assert staff_client.post(lifecycle(book.janes, "freeze")).status_code == 403


# --- staff forms: deposit, withdrawal, transfer ---------------------------------------------


def money_form(client, account, name, **data):
    url = f"{ACCOUNTS}{account.pk}/{name}/"
    fields = form_fields(client.get(url).content.decode())
    return client.post(url, {**fields, **data})


def test_deposit_form_posts_through_the_service(staff_client, book):
    response = money_form(
        staff_client, book.bobs, "deposit", amount="120.50", description="Cash at the counter"
    )
    assert response.status_code == 302 and response.url == change_url(book.bobs)
    assert balance_of(book.bobs) == (Decimal("120.50"), Decimal("120.50"))
    posting = Posting.objects.filter(account=book.bobs).get()
    assert (posting.kind, posting.description) == ("deposit", "Cash at the counter")
    journal = posting.journal
    assert (journal.actor, journal.channel) == (STAFF_ACTOR, "admin")
    assert journal.idempotency_key.startswith("admin-")
    followed = staff_client.get(response.url)
    assert (SUCCESS, f"Deposited 120.50 EUR into {book.bobs.reference}.") in messages_of(followed)


def test_a_resubmitted_deposit_form_posts_once(staff_client, book):
    url = f"{ACCOUNTS}{book.bobs.pk}/deposit/"
    fields = {**form_fields(staff_client.get(url).content.decode()), "amount": "10"}
    assert staff_client.post(url, fields).status_code == 302
    assert staff_client.post(url, fields).status_code == 302  # the same page sent again
    assert Posting.objects.filter(account=book.bobs).count() == 1
    assert balance_of(book.bobs)[0] == Decimal("10")


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("", "This field is required."),
        ("abc", "Enter a number."),
        ("0", "The amount must be more than zero."),
        ("-5", "The amount must be more than zero."),
        ("1.001", "EUR amounts have at most 2 decimal places."),
        ("NaN", "Enter a number."),
        ("1e999999", "Ensure that there are no more than 20 digits in total."),
    ],
)
def test_deposit_form_bad_amounts_are_field_errors(staff_client, book, amount, message):
    response = money_form(staff_client, book.bobs, "deposit", amount=amount)
    assert response.status_code == 200
    assert response.context["form"].errors["amount"] == [message]
    assert not Posting.objects.filter(account=book.bobs).exists()


def test_deposit_refused_on_a_frozen_account_is_shown_on_the_form(staff_client, book):
    services.freeze_account(account=book.bobs)
    response = money_form(staff_client, book.bobs, "deposit", amount="10")
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        f"{book.bobs.reference} is frozen; nothing posts to it."
    ]
    assert not Posting.objects.filter(account=book.bobs).exists()


def test_withdrawal_within_and_beyond_the_available_balance(staff_client, book):
    refused = money_form(staff_client, book.janes, "withdraw", amount="450.01")
    assert refused.status_code == 200
    assert refused.context["form"].non_field_errors() == [
        f"Insufficient available balance on {book.janes.reference}: 450.00 EUR available, "
        "450.01 needed."
    ]
    assert money_form(staff_client, book.janes, "withdraw", amount="450").status_code == 302
    assert balance_of(book.janes) == (Decimal("50.00"), Decimal("0.00"))


def test_transfer_form_moves_money_between_two_accounts(staff_client, book):
    html = staff_client.get(f"{ACCOUNTS}{book.janes.pk}/transfer/").content.decode()
    assert "admin-autocomplete" in html
    response = money_form(
        staff_client, book.janes, "transfer", to_account=book.bobs.pk, amount="200"
    )
    assert response.status_code == 302
    assert balance_of(book.janes)[0] == Decimal("300")
    assert balance_of(book.bobs)[0] == Decimal("200")
    journal = Journal.objects.get(kind="transfer")
    assert sorted(journal.postings.values_list("amount", flat=True)) == [-200, 200]


def test_transfer_to_another_currency_is_refused(staff_client, book):
    dollars = AccountFactory(tenant=book.jane.tenant, customer=book.bob, currency="USD")
    response = money_form(staff_client, book.janes, "transfer", to_account=dollars.pk, amount="5")
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        f"{dollars.reference} holds USD, not EUR; a movement stays in one currency."
    ]


def test_transfer_to_another_banks_or_the_same_account_is_not_a_choice(staff_client, book, theirs):
    for target in (theirs, book.janes):
        response = money_form(
            staff_client, book.janes, "transfer", to_account=target.pk, amount="5"
        )
        assert response.status_code == 200
        assert "to_account" in response.context["form"].errors
    assert not Journal.objects.filter(kind="transfer").exists()


def test_the_autocomplete_offers_the_banks_accounts(staff_client, book, theirs):
    response = staff_client.get(
        "/admin/autocomplete/",
        {"app_label": "accounts", "model_name": "posting", "field_name": "account", "term": "Lind"},
    )
    assert [r["id"] for r in response.json()["results"]] == [str(book.bobs.pk)]


# --- journals and reversals ------------------------------------------------------------------


def test_journal_page_shows_its_postings_and_offers_a_reversal(staff_client, book):
    journal = Posting.objects.filter(account=book.janes).get().journal
    html = staff_client.get(change_url(journal)).content.decode()
    assert "+500.00 EUR" in html and "-500.00 EUR" in html
    assert f'href="{JOURNALS}{journal.pk}/reverse/"' in html
    assert 'name="description"' not in html  # read-only


def test_reversal_asks_first_then_posts_the_opposite(staff_client, book):
    services.release_hold(hold=book.hold)
    journal = Posting.objects.filter(account=book.janes).get().journal
    url = f"{JOURNALS}{journal.pk}/reverse/"
    confirm = staff_client.get(url)
    html = confirm.content.decode()
    assert confirm.status_code == 200
    assert "Reverse this deposit?" in html
    assert re.search(
        r"SETTLEMENT-EUR</td><td class=\"amount\">-500.00 EUR</td>"
        r"<td class=\"amount\">\+500.00 EUR",
        html,
    )
    assert Journal.objects.count() == 1  # nothing yet
    response = staff_client.post(url, {"post": "yes", "description": "Wrong account"})
    reversal = Journal.objects.get(reversal_of=journal)
    assert response.status_code == 302 and response.url == change_url(reversal)
    assert (reversal.description, reversal.actor) == ("Wrong account", STAFF_ACTOR)
    assert balance_of(book.janes)[0] == 0
    page = staff_client.get(change_url(journal)).content.decode()
    assert "Reversed by" in page and "/reverse/" not in page


def test_a_second_reversal_is_refused_on_the_page(staff_client, book):
    journal = services.deposit(account=book.bobs, amount=Decimal("5")).journal
    url = f"{JOURNALS}{journal.pk}/reverse/"
    assert staff_client.post(url, {"post": "yes"}).status_code == 302
    response = staff_client.post(url, {"post": "yes"})
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        f"Journal {journal.public_id} has already been reversed."
    ]
    assert Journal.objects.filter(kind="reversal").count() == 1


def test_a_reversal_refused_by_the_rules_is_shown(staff_client, book):
    journal = services.deposit(account=book.bobs, amount=Decimal("5")).journal
    services.withdraw(account=book.bobs, amount=Decimal("5"))
    response = staff_client.post(f"{JOURNALS}{journal.pk}/reverse/", {"post": "yes"})
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        f"Insufficient available balance on {book.bobs.reference}: 0.00 EUR available, 5.00 needed."
    ]


def test_reversal_of_another_banks_journal_is_404(staff_client, book, theirs):
    with tenant_context(theirs.tenant):
        journal = Posting.objects.filter(account=theirs).get().journal
    assert staff_client.get(f"{JOURNALS}{journal.pk}/reverse/").status_code == 404
    assert staff_client.post(f"{JOURNALS}{journal.pk}/reverse/", {"post": "yes"}).status_code == 404


def test_journal_history_is_its_audit_event(staff_client, book):
    journal = Posting.objects.filter(account=book.janes).get().journal
    response = staff_client.get(f"{JOURNALS}{journal.pk}/history/", follow=True)
    assert response.status_code == 200
    results = response.context["cl"].result_list
    assert [(e.action, e.resource_id) for e in results] == [("deposit", str(journal.public_id))]


# --- postings --------------------------------------------------------------------------------


def test_postings_changelist_lists_and_finds(staff_client, book, theirs):
    response = staff_client.get(POSTINGS)
    janes = Posting.objects.get(account=book.janes)
    assert {p.account_id for p in rows_of(response)} == {
        book.janes.pk,
        janes.journal.postings.exclude(pk=janes.pk).get().account_id,
    }
    html = response.content.decode()
    assert '<td class="field-signed_amount">+500.00 EUR</td>' in html
    assert f'<a href="{change_url(janes.journal)}">Deposit</a>' in html
    for term in (book.janes.reference, book.janes.account_number, str(janes.public_id)):
        assert rows_of(staff_client.get(POSTINGS, {"q": term})) == [janes]
    both = rows_of(staff_client.get(POSTINGS, {"q": str(janes.journal.public_id)}))
    assert len(both) == 2
    assert rows_of(staff_client.get(POSTINGS, {"account__id__exact": book.janes.pk})) == [janes]


@pytest.mark.parametrize("count", [5, 40])
def test_postings_changelist_queries_do_not_grow_with_rows(
    staff_client, book, django_assert_max_num_queries, count
):
    for n in range(count):
        services.deposit(account=book.bobs, amount=Decimal(n + 1))
    with django_assert_max_num_queries(POSTINGS_QUERY_BUDGET):
        response = staff_client.get(POSTINGS)
    assert len(rows_of(response)) == min(2 * count + 2, 50)


def test_postings_changelist_never_counts_or_scans_the_whole_table(staff_client, book):
    with CaptureQueriesContext(connection) as queries:
        assert staff_client.get(POSTINGS).status_code == 200
    sql = [
        q["sql"].upper() for q in queries.captured_queries if "ACCOUNTS_POSTING" in q["sql"].upper()
    ]
    counts = [q for q in sql if "COUNT(" in q]
    assert counts and all("LIMIT" in q for q in counts)
    assert not [q for q in sql if "DISTINCT" in q]  # the date drill-down reads MIN/MAX only


def test_past_the_cap_the_list_says_more_than(staff_client, book, monkeypatch):
    monkeypatch.setattr(CappedCountPaginator, "cap", 3)
    for n in range(3):
        services.deposit(account=book.bobs, amount=Decimal(n + 1))
    html = staff_client.get(POSTINGS).content.decode()
    assert "More than 3 postings: narrow the list by date, filter or search." in html


def test_date_drill_down_offers_the_days_between_the_first_and_last(staff_client, book):
    response = staff_client.get(POSTINGS)
    today = timezone.localdate()
    html = response.content.decode()
    assert f"posted_at__day={today.day}" in html  # one day of postings: drilled to it
    response = staff_client.get(POSTINGS, {"posted_at__year": today.year})
    assert response.status_code == 200


def test_date_drill_down_over_the_demo_months(staff_client):
    """The demo's postings run from August to November 2026: one year, so the list opens on
    its months, every one between the first and the last; a month offers its days."""
    call_command("loaddata", "demo", verbosity=0)
    html = staff_client.get(POSTINGS).content.decode()
    months = re.findall(r"posted_at__month=(\d+)&amp;posted_at__year=2026", html)
    assert months == ["8", "9", "10", "11"]
    html = staff_client.get(POSTINGS, {"posted_at__year": 2026, "posted_at__month": 9}).content
    days = re.findall(rb"posted_at__day=(\d+)&amp;posted_at__month=9", html)
    assert days[0] == b"1" and days[-1] == b"30"  # the first and last working days, and between


@pytest.mark.parametrize(
    "query",
    [
        "posted_at__year=abc",
        "posted_at__year=2026&posted_at__month=13",
        "posted_at__year=99999",
        "posted_at__day=31&posted_at__month=2&posted_at__year=2026",
        "account__id__exact=x",
        "journal__id__exact=1e5",
        "kind__exact=nonsense",
        "o=99",
        "o=-x.1",
        "p=-1",
        "p=99999",
        "q=%00",
        "q=" + "9" * 300,
        "q=00000000-0000-0000-0000-00000000000g",
        "all=&p=2",
        "unknown=1",
        "account__customer__national_id=1",
    ],
)
@pytest.mark.parametrize("url", [POSTINGS, ACCOUNTS, JOURNALS, HOLDS])
def test_odd_query_strings_never_answer_500(staff_client, book, url, query):
    response = staff_client.get(f"{url}?{query}")
    assert response.status_code in {200, 302, 400}, (url, query)


@pytest.mark.parametrize("model", ["posting", "journal", "hold"])
def test_the_ledger_is_read_only_in_the_back_office(staff_client, book, model):
    staff_client.user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="accounts")
    )
    obj = {"posting": Posting, "journal": Journal, "hold": Hold}[model].objects.first()
    base = f"/admin/accounts/{model}/"
    assert staff_client.get(f"{base}add/").status_code == 403
    assert staff_client.get(f"{base}{obj.pk}/delete/").status_code == 403
    page = staff_client.get(f"{base}{obj.pk}/change/")
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert staff_client.post(f"{base}{obj.pk}/change/", {}).status_code == 403


def test_posting_page_and_history(staff_client, book):
    posting = Posting.objects.get(account=book.janes)
    html = staff_client.get(change_url(posting)).content.decode()
    assert str(posting.public_id) in html and "+500.00 EUR" in html
    history = staff_client.get(f"{POSTINGS}{posting.pk}/history/")
    assert history.status_code == 302 and str(posting.journal.public_id) in history.url


# --- holds -----------------------------------------------------------------------------------


def test_holds_list_history_and_release(staff_client, book):
    rows = listed(staff_client.get(HOLDS))
    assert rows[book.hold.pk]["shown_status"] == "active"
    response = staff_client.post(
        HOLDS,
        {"action": "release_selected", "_selected_action": [book.hold.pk], "index": "0"},
        follow=True,
    )
    assert (SUCCESS, "Released 1 hold(s).") in messages_of(response)
    assert balance_of(book.janes)[1] == Decimal("500")
    again = staff_client.post(
        HOLDS,
        {"action": "release_selected", "_selected_action": [book.hold.pk], "index": "0"},
        follow=True,
    )
    assert errors_of(again) == [
        f"Hold {book.hold.public_id}: This hold is released; only an active hold is released."
    ]
    history = staff_client.get(f"{HOLDS}{book.hold.pk}/history/").content.decode()
    assert "hana (staff)" in history and "released at" in history


def test_account_history_page(staff_client, book):
    response = staff_client.get(f"{ACCOUNTS}{book.janes.pk}/history/")
    html = response.content.decode()
    assert response.status_code == 200 and 'id="change-history"' in html
    assert "system" in html  # the factory's row, then the services' ones
    assert "status:</strong> active → frozen" not in html
    services.freeze_account(account=book.janes)
    html = staff_client.get(f"{ACCOUNTS}{book.janes.pk}/history/").content.decode()
    assert "status:</strong> active → frozen" in html


# --- every page renders under the strict CSP ------------------------------------------------


def test_ledger_pages_carry_no_inline_script_or_style(staff_client, book):
    journal = Posting.objects.filter(account=book.janes).get().journal
    pages = [
        ACCOUNTS,
        f"{ACCOUNTS}add/",
        change_url(book.janes),
        f"{ACCOUNTS}{book.janes.pk}/deposit/",
        f"{ACCOUNTS}{book.janes.pk}/transfer/",
        f"{ACCOUNTS}{book.janes.pk}/history/",
        POSTINGS,
        JOURNALS,
        change_url(journal),
        f"{JOURNALS}{journal.pk}/reverse/",
        HOLDS,
        change_url(book.hold),
    ]
    for url in pages:
        response = staff_client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert not INLINE_SCRIPT.search(html), url
        assert " style=" not in html and "<style" not in html, url


def test_a_superuser_across_banks_sees_both_and_cannot_post(db, book, theirs):
    from django.test import Client

    from tests.factories import UserFactory

    client = Client()
    client.force_login(UserFactory(username="root", is_superuser=True))
    rows = listed(client.get(ACCOUNTS))
    assert {book.janes.pk, theirs.pk} <= set(rows)
    with system_scope():
        assert client.get(f"{ACCOUNTS}add/").status_code == 403
