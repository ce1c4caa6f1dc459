"""The customer back office: list, filters, search, add, actions, closure blockers, UBO panel,
relationships inline, tenant isolation and the history page, as a staff user of `tenant` sees it.
"""

import datetime
import re
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import ERROR, SUCCESS
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone
from django.utils.html import strip_tags

from core.context import system_scope, tenant_context
from core.errors import ConflictError, RuleViolation
from customers import selectors, services
from customers.blockers import register_closure_check, unregister_closure_check
from customers.models import Customer, CustomerRelationship
from tests.conftest import postgres_only
from tests.customers.factories import BusinessFactory, CustomerFactory, ShareholdingFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/customers/customer/"
ADD = f"{CHANGELIST}add/"
STAFF_ACTOR = "user:hana"
JANE_NATIONAL_ID = "QQ123456C"

# What one changelist page may cost, whatever the number of rows on it: session, user, membership,
# tenant, permissions (2), the page's count and rows, the date hierarchy (2) and the country
# filter's choices. The same ceiling holds for 5 customers and for 40.
CHANGELIST_QUERY_BUDGET = 11


def change_url(customer):
    return f"{CHANGELIST}{customer.pk}/change/"


def listed(response):
    """The changelist rows: {pk: {column: text}}."""
    assert response.status_code == 200
    html = response.content.decode()
    if 'id="result_list"' not in html:
        return {}
    table = html[html.index('id="result_list"') :]
    table = table[: table.index("</table>")]
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", table, re.DOTALL):
        selected = re.search(r'name="_selected_action" value="(\d+)"', row)
        if selected:
            cells = re.findall(r'<t[dh] class="field-([a-z_]+)[^"]*">(.*?)</t[dh]>', row, re.DOTALL)
            rows[int(selected[1])] = {name: strip_tags(text).strip() for name, text in cells}
    return rows


def messages_of(response):
    return [(m.level, m.message) for m in response.context["messages"]]


def form_fields(html):
    """What a browser would submit from the page's form: inputs, selected options, textareas."""
    data = {}
    for tag in re.findall(r"<input([^>]*)>", html):
        attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', tag))
        if "name" in attrs and attrs.get("type") not in {"submit", "checkbox", "radio"}:
            data[attrs["name"]] = attrs.get("value", "")
    # `\sname=`: not the autocomplete widget's `data-field-name=` attribute.
    selects = re.findall(r'<select[^>]*\sname="([^"]+)"[^>]*>(.*?)</select>', html, re.DOTALL)
    for name, body in selects:
        chosen = re.search(r'<option value="([^"]*)"[^>]*selected', body)
        data[name] = chosen[1] if chosen else ""
    for name, body in re.findall(
        r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', html, re.DOTALL
    ):
        data[name] = body.strip()
    data.pop("csrfmiddlewaretoken", None)
    return data


def latest_history(customer):
    return Customer.history.filter(id=customer.pk).order_by("-history_id").first()


@pytest.fixture
def people(in_tenant):
    """Four customers of `tenant` (one soft-deleted) and one of another bank."""
    jane = CustomerFactory(
        tenant=in_tenant, first_name="Jane", last_name="Okafor", national_id=JANE_NATIONAL_ID
    )
    acme = BusinessFactory(tenant=in_tenant, legal_name="Acme Trading Ltd")
    bob = CustomerFactory(
        tenant=in_tenant,
        first_name="Bob",
        last_name="Lindqvist",
        status=Customer.Status.ACTIVE,
        kyc_status=Customer.KycStatus.VERIFIED,
    )
    gone = CustomerFactory(
        tenant=in_tenant,
        first_name="Dana",
        last_name="Whitfield",
        deleted_at=timezone.now(),
        deleted_by="user:someone",
    )
    return SimpleNamespace(jane=jane, acme=acme, bob=bob, gone=gone)


@pytest.fixture
def theirs(other_tenant):
    with tenant_context(other_tenant):
        return CustomerFactory(
            tenant=other_tenant, first_name="Olga", last_name="Northwind", national_id="ZZ999888Y"
        )


# --- changelist ---------------------------------------------------------------------------------


def test_changelist_shows_own_live_customers_with_masked_national_id(staff_client, people, theirs):
    response = staff_client.get(CHANGELIST)
    rows = listed(response)
    assert set(rows) == {people.jane.pk, people.acme.pk, people.bob.pk}
    assert rows[people.jane.pk] == {
        "reference": people.jane.reference,
        "display_name": "Jane Okafor",
        "type": "Individual",
        "status": "Prospect",
        "kyc_status": "Pending",
        "risk_rating": "Low",
        "masked_national_id": "*****456C",
        "created_at": rows[people.jane.pk]["created_at"],
    }
    assert rows[people.bob.pk]["status"] == "Active"
    assert rows[people.bob.pk]["kyc_status"] == "Verified"
    assert rows[people.acme.pk]["display_name"] == "Acme Trading Ltd"
    html = response.content.decode()
    assert JANE_NATIONAL_ID not in html
    assert "Northwind" not in html and "ZZ999888Y" not in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status__exact=active", ["bob"]),
        ("status__exact=prospect", ["jane", "acme"]),
        ("kyc_status__exact=verified", ["bob"]),
        ("kyc_status__exact=pending", ["jane", "acme"]),
        ("type__exact=business", ["acme"]),
        ("type__exact=individual", ["jane", "bob"]),
        ("deleted=deleted", ["gone"]),
        ("deleted=live", ["jane", "acme", "bob"]),
        ("deleted=all", ["jane", "acme", "bob", "gone"]),
        ("deleted=deleted&type__exact=business", []),
    ],
)
def test_changelist_filters(staff_client, people, theirs, query, expected):
    rows = listed(staff_client.get(f"{CHANGELIST}?{query}"))
    assert set(rows) == {getattr(people, name).pk for name in expected}


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("okafor", ["jane"]),  # a name, any case
        ("Acme Trading", ["acme"]),
        (JANE_NATIONAL_ID, ["jane"]),  # a national id, exactly
        ("QQ1234", []),  # never by part of a national id
        ("456C", []),  # not even by the part that is shown
        ("Northwind", []),  # another bank's customer
        ("ZZ999888Y", []),
    ],
)
def test_changelist_search(staff_client, people, theirs, term, expected):
    rows = listed(staff_client.get(CHANGELIST, {"q": term}))
    assert set(rows) == {getattr(people, name).pk for name in expected}


@pytest.mark.parametrize("count", [5, 40])
def test_changelist_queries_do_not_grow_with_rows(
    staff_client, in_tenant, django_assert_max_num_queries, count
):
    CustomerFactory.create_batch(count - count // 5, tenant=in_tenant, national_id="AB1234567")
    BusinessFactory.create_batch(count // 5, tenant=in_tenant)
    with django_assert_max_num_queries(CHANGELIST_QUERY_BUDGET):
        response = staff_client.get(CHANGELIST)
    assert len(listed(response)) == count


# --- add ----------------------------------------------------------------------------------------


def add_form(**overrides):
    data = {
        "type": "individual",
        "first_name": "Eva",
        "last_name": "Novak",
        "legal_name": "",
        "date_of_birth": "1990-05-17",
        "national_id": "CZ9005171234",
        "email": "Eva.Novak@example.com",
        "phone": "+420 601 123 456",
        "address_line1": "Na Poříčí 12",
        "address_line2": "",
        "address_city": "Praha",
        "address_postal_code": "110 00",
        "address_country": "cz",
        "risk_rating": "medium",
        "_save": "Save",
    }
    data.update(overrides)
    return data


def test_add_customer_assigns_reference_and_records_who(staff_client, in_tenant):
    response = staff_client.post(ADD, add_form())
    assert response.status_code == 302
    customer = Customer.objects.get(email="eva.novak@example.com")
    assert re.fullmatch(r"CUS-\d{6}", customer.reference)
    assert customer.tenant == in_tenant
    assert customer.phone == "+420601123456"
    assert customer.address_country == "CZ"
    assert customer.status == Customer.Status.PROSPECT
    assert customer.kyc_status == Customer.KycStatus.PENDING
    history = list(Customer.history.filter(id=customer.pk))
    assert [(row.action, row.actor) for row in history] == [("create", STAFF_ACTOR)]
    assert history[0].reference == customer.reference


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"last_name": ""}, "last_name", "Required for an individual."),
        (
            # A year ahead: computed when tests are collected, so never today after midnight.
            {"date_of_birth": (timezone.localdate() + datetime.timedelta(days=366)).isoformat()},
            "date_of_birth",
            "The date of birth cannot be in the future.",
        ),
        (
            {"phone": "12345"},
            "phone",
            "This is not a valid phone number (e.g. +442079460958, or a national GB number).",
        ),
        (
            {"address_country": "XX"},
            "address_country",
            "Enter an ISO 3166-1 alpha-2 country code, e.g. GB or DE.",
        ),
    ],
)
def test_add_customer_with_invalid_input_rerenders_and_stores_nothing(
    staff_client, in_tenant, overrides, field, message
):
    response = staff_client.post(ADD, add_form(**overrides))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors[field] == [message]
    html = response.content.decode()
    assert message.replace("'", "&#x27;") in html
    with system_scope():
        assert not Customer.all_objects.exists()
        assert not Customer.history.exists()


# --- actions ------------------------------------------------------------------------------------


def run_action(client, action, *customers, url=CHANGELIST, confirmed=False):
    """Run a changelist action; `confirmed` answers its confirmation page's "Yes"."""
    data = {"action": action, "_selected_action": [c.pk for c in customers], "index": "0"}
    if confirmed:
        data["post"] = "yes"
    return client.post(url, data, follow=True)


def test_action_verify_kyc(staff_client, people):
    response = run_action(staff_client, "verify_kyc", people.jane)
    people.jane.refresh_from_db()
    assert people.jane.kyc_status == Customer.KycStatus.VERIFIED
    assert people.jane.kyc_changed_by == STAFF_ACTOR
    assert people.jane.kyc_changed_at is not None
    row = latest_history(people.jane)
    assert (row.action, row.actor, row.kyc_status) == ("update", STAFF_ACTOR, "verified")
    assert (SUCCESS, "KYC verified for 1 customer.") in messages_of(response)


def test_action_refusal_is_shown_and_changes_nothing(staff_client, people):
    Customer.objects.filter(pk=people.jane.pk).update(status=Customer.Status.CLOSED)
    response = run_action(staff_client, "block", people.jane, people.bob)
    errors = [text for level, text in messages_of(response) if level == ERROR]
    ref = people.jane.reference
    assert errors == [
        f"{people.jane}: {ref} cannot go from closed to blocked. "
        "Allowed from closed: none (closed is final)."
    ]
    assert (SUCCESS, "Blocked 1 customer.") in messages_of(response)
    people.jane.refresh_from_db()
    people.bob.refresh_from_db()
    assert people.jane.status == Customer.Status.CLOSED
    assert people.bob.status == Customer.Status.BLOCKED


def test_action_block(staff_client, people):
    response = run_action(staff_client, "block", people.bob)
    people.bob.refresh_from_db()
    assert people.bob.status == Customer.Status.BLOCKED
    row = latest_history(people.bob)
    assert (row.action, row.actor, row.status) == ("update", STAFF_ACTOR, "blocked")
    assert (SUCCESS, "Blocked 1 customer.") in messages_of(response)


def test_action_soft_delete(staff_client, people):
    response = run_action(staff_client, "soft_delete_selected", people.jane, confirmed=True)
    assert not Customer.objects.filter(pk=people.jane.pk).exists()
    jane = Customer.all_objects.get(pk=people.jane.pk)
    assert jane.deleted_at is not None and jane.deleted_by == STAFF_ACTOR
    row = latest_history(jane)
    assert (row.action, row.actor) == ("soft_delete", STAFF_ACTOR)
    assert (SUCCESS, "Soft-deleted 1 customer.") in messages_of(response)
    assert people.jane.pk not in listed(response)


def test_action_restore_from_the_deleted_list(staff_client, people):
    response = run_action(
        staff_client,
        "restore_selected",
        people.gone,
        url=f"{CHANGELIST}?deleted=deleted",
        confirmed=True,
    )
    gone = Customer.objects.get(pk=people.gone.pk)
    assert gone.deleted_at is None and gone.deleted_by == ""
    row = latest_history(gone)
    assert (row.action, row.actor) == ("restore", STAFF_ACTOR)
    assert (SUCCESS, "Restored 1 customer.") in messages_of(response)


@pytest.fixture
def open_account_blocks_jane():
    def open_account(customer):
        if customer.first_name == "Jane":
            return ["account ACC-000012 is still open"]
        return []

    register_closure_check(open_account)
    yield open_account
    unregister_closure_check(open_account)


def test_soft_delete_refused_by_a_closure_check_names_the_blocker(
    staff_client, people, open_account_blocks_jane
):
    history_before = Customer.history.filter(id=people.jane.pk).count()
    response = run_action(
        staff_client, "soft_delete_selected", people.jane, people.bob, confirmed=True
    )
    errors = [text for level, text in messages_of(response) if level == ERROR]
    assert errors == [
        f"{people.jane}: Cannot delete {people.jane.reference}: account ACC-000012 is still open."
    ]
    assert (SUCCESS, "Soft-deleted 1 customer.") in messages_of(response)  # Bob had nothing open
    assert Customer.objects.filter(pk=people.jane.pk).exists()
    assert not Customer.objects.filter(pk=people.bob.pk).exists()
    assert Customer.history.filter(id=people.jane.pk).count() == history_before


# --- change page: beneficial owners and relationships --------------------------------------------


@pytest.fixture
def group(people):
    """Jane 60 % and Carl 40 % of Holdco; Holdco 50 %, Jane 10 % and Bob 30 % of Acme.

    Effective in Acme: Jane 0.6 x 0.5 + 0.1 = 40 %, Bob 30 %, Carl 0.4 x 0.5 = 20 % (under 25 %).
    """
    tenant = people.acme.tenant
    carl = CustomerFactory(tenant=tenant, first_name="Carl", last_name="Moreau")
    holdco = BusinessFactory(tenant=tenant, legal_name="Okafor Holdings Ltd")
    ShareholdingFactory(customer=holdco, related_customer=people.jane, ownership_percentage=60)
    ShareholdingFactory(customer=holdco, related_customer=carl, ownership_percentage=40)
    ShareholdingFactory(customer=people.acme, related_customer=holdco, ownership_percentage=50)
    ShareholdingFactory(customer=people.acme, related_customer=people.jane, ownership_percentage=10)
    ShareholdingFactory(customer=people.acme, related_customer=people.bob, ownership_percentage=30)
    return SimpleNamespace(**vars(people), carl=carl, holdco=holdco)


def ubo_panel(html):
    panel = html[html.index("field-beneficial_owners_panel") :]
    panel = panel[: panel.index("</table>")]
    return [
        [strip_tags(cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.DOTALL)]
        for row in re.findall(r"<tr>(.*?)</tr>", panel, re.DOTALL)
        if "<td" in row
    ]


def test_business_change_page_shows_ubo_panel(staff_client, group):
    response = staff_client.get(change_url(group.acme))
    assert response.status_code == 200
    acme, holdco = group.acme.reference, group.holdco.reference
    jane, bob = group.jane.reference, group.bob.reference
    assert ubo_panel(response.content.decode()) == [
        [jane, "Jane Okafor", "40 %", f"{jane} → {acme}; {jane} → {holdco} → {acme}"],
        [bob, "Bob Lindqvist", "30 %", f"{bob} → {acme}"],
    ]


def test_individual_change_page_has_no_ubo_panel(staff_client, people):
    response = staff_client.get(change_url(people.jane))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="last_name"' in html  # the page did render the customer
    assert "field-beneficial_owners_panel" not in html


def inline_post(client, company, *new_rows):
    """POST the change form of `company` as rendered, plus `new_rows` in the inline."""
    html = client.get(change_url(company)).content.decode()
    assert 'name="relationships-TOTAL_FORMS"' in html  # the inline's prefix
    data = form_fields(html)
    first = int(data["relationships-TOTAL_FORMS"])
    for offset, row in enumerate(new_rows):
        prefix = f"relationships-{first + offset}-"
        data.update({f"{prefix}{name}": "" for name in ("id", "started_on", "ended_on")})
        data[f"{prefix}customer"] = str(company.pk)
        data.update({f"{prefix}{name}": str(value) for name, value in row.items()})
    data["relationships-TOTAL_FORMS"] = str(first + len(new_rows))
    data["_save"] = "Save"
    return client.post(change_url(company), data)


def inline_errors(response):
    assert response.status_code == 200, "the form should have been shown again"
    formset = response.context["inline_admin_formsets"][0].formset
    return [errors for errors in formset.errors if errors] + list(formset.non_form_errors())


def test_inline_adds_a_shareholder_through_the_service(staff_client, people):
    beta = BusinessFactory(tenant=people.acme.tenant, legal_name="Beta Ltd")
    response = inline_post(
        staff_client,
        beta,
        {"type": "shareholder", "related_customer": people.jane.pk, "ownership_percentage": "60"},
    )
    assert response.status_code == 302
    relationship = CustomerRelationship.objects.get(customer=beta)
    assert relationship.related_customer == people.jane
    assert relationship.ownership_percentage == Decimal("60")
    row = relationship.history.get()
    assert (row.action, row.actor) == ("create", STAFF_ACTOR)
    assert ubo_panel(staff_client.get(change_url(beta)).content.decode())[0][:3] == [
        people.jane.reference,
        "Jane Okafor",
        "60 %",
    ]


def test_inline_refuses_ownership_over_100_percent(staff_client, group):
    response = inline_post(
        staff_client,
        group.acme,
        {"type": "shareholder", "related_customer": group.carl.pk, "ownership_percentage": "20"},
    )
    [errors] = inline_errors(response)
    [message] = errors["ownership_percentage"]
    assert message.endswith(
        f"% of {group.acme.reference} is already held directly; adding 20% would exceed 100%."
    )
    assert "would exceed 100%" in response.content.decode()
    assert not CustomerRelationship.objects.filter(customer=group.acme, related_customer=group.carl)


def test_inline_refuses_rows_that_together_exceed_100_percent(staff_client, group):
    beta = BusinessFactory(tenant=group.acme.tenant, legal_name="Beta Ltd")
    ShareholdingFactory(customer=beta, related_customer=group.bob, ownership_percentage=50)
    response = inline_post(
        staff_client,
        beta,
        {"type": "shareholder", "related_customer": group.jane.pk, "ownership_percentage": "30"},
        {"type": "shareholder", "related_customer": group.carl.pk, "ownership_percentage": "30"},
    )
    [message] = inline_errors(response)
    assert "give 110% direct ownership" in message
    assert CustomerRelationship.objects.filter(customer=beta).count() == 1


# --- tenant isolation and history ---------------------------------------------------------------


def test_another_tenants_customer_is_not_shown(staff_client, people, theirs):
    response = staff_client.get(change_url(theirs), follow=True)
    html = response.content.decode()
    assert "Northwind" not in html and "ZZ999888Y" not in html
    assert "doesn\u2019t exist" in html


def history_table(html):
    """The history page's table: (headers, rows of cell texts)."""
    table = html[html.index('id="change-history"') :]
    headers = [strip_tags(h).strip() for h in re.findall(r"<th[^>]*>(.*?)</th>", table)]
    body = table[table.index("<tbody>") : table.index("</tbody>")]
    rows = [
        [
            " ".join(strip_tags(cell).split())
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.DOTALL)
        ]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.DOTALL)
    ]
    return headers, rows


def test_history_page_has_readable_headers_action_and_actor(staff_client, people):
    run_action(staff_client, "block", people.jane)
    response = staff_client.get(f"{change_url(people.jane)[: -len('change/')]}history/")
    assert response.status_code == 200
    headers, rows = history_table(response.content.decode())
    assert headers == [
        "When",
        "Who",
        "Action",
        "Channel",
        "Changes (old → new)",
        "IP address",
        "Request id",
        "Version",
    ]
    who, action, changes = 1, 2, 4
    assert [(row[action], row[who]) for row in rows] == [
        ("update", "hana (staff)"),  # newest first: the block
        ("create", "system"),  # the factory, outside any request
    ]
    assert rows[0][changes] == "status: prospect → blocked"


def test_history_page_names_the_partner_key_of_an_api_change(staff_client, people, api):
    reference = people.jane.reference
    assert (
        api.patch(f"/api/v1/customers/{reference}", {"email": "j@example.com"}).status_code == 200
    )
    key_prefix = api.raw_key.split("_")[1]
    html = staff_client.get(f"{CHANGELIST}{people.jane.pk}/history/").content.decode()
    _headers, rows = history_table(html)
    assert rows[0][1] == f"API key {key_prefix}\u2026 (partner)"
    assert rows[0][2:4] == ["update", "api"]
    assert rows[0][4] == f"email: {people.jane.email} → j@example.com"


def test_history_page_links_to_the_audit_trail_with_related_records(staff_client, people, theirs):
    """The customer's own history rows lack its relationships; the audit trail has them."""
    with tenant_context(theirs.tenant):  # so that this bank's relationship 1 has another pk
        ShareholdingFactory(customer=BusinessFactory(tenant=theirs.tenant), related_customer=theirs)
    share = ShareholdingFactory(
        customer=people.acme, related_customer=people.jane, ownership_percentage=60
    )
    assert share.number != share.pk
    html = staff_client.get(f"{CHANGELIST}{people.jane.pk}/history/").content.decode()
    link = re.search(r'class="history-link"><a href="([^"]+)"', html).group(1)
    assert link == f"/admin/audit/auditevent/?about=customers.customer%3A{people.jane.reference}"
    listed = staff_client.get(link.replace("&amp;", "&"))
    assert listed.status_code == 200
    events = {(e.resource_type, e.resource_id) for e in listed.context["cl"].result_list}
    assert events == {
        ("customers.customer", people.jane.reference),
        ("customers.customerrelationship", str(share.number)),
    }
    # Without the audit log's view permission, no link.
    staff_client.user.user_permissions.remove(Permission.objects.get(codename="view_auditevent"))
    html = staff_client.get(f"{CHANGELIST}{people.jane.pk}/history/").content.decode()
    assert "history-link" not in html


def test_another_tenants_history_is_not_shown(staff_client, people, theirs):
    with tenant_context(theirs.tenant):
        version = theirs.history.get().history_id
    for url in (
        f"{CHANGELIST}{theirs.pk}/history/",
        f"{CHANGELIST}{theirs.pk}/history/{version}/",
    ):
        response = staff_client.get(url, follow=True)
        html = response.content.decode()
        assert "Northwind" not in html and "ZZ999888Y" not in html, url


def test_history_page_shows_lifecycle_changes_and_masks_national_id(staff_client, people):
    run_action(staff_client, "block", people.jane)
    customer = Customer.objects.get(pk=people.jane.pk)
    customer.national_id = "NEW99887766"
    customer.save()
    html = staff_client.get(f"{CHANGELIST}{people.jane.pk}/history/").content.decode()
    assert "prospect" in html and "blocked" in html  # the status change, though not editable
    assert "*******7766" in html
    assert JANE_NATIONAL_ID not in html and "NEW99887766" not in html


def test_history_versions_cannot_be_reverted(staff_client, people):
    version = people.jane.history.earliest().history_id
    url = f"{CHANGELIST}{people.jane.pk}/history/{version}/"
    data = {**form_fields(staff_client.get(url).content.decode()), "first_name": "Reverted"}
    response = staff_client.post(url, {**data, "_save": "Save"})
    assert response.status_code == 403
    people.jane.refresh_from_db()
    assert people.jane.first_name == "Jane"


def test_relationships_are_edited_only_on_the_customer_page(staff_client, group):
    rel = CustomerRelationship.objects.filter(customer=group.acme).first()
    url = f"/admin/customers/customerrelationship/{rel.pk}/change/"
    response = staff_client.post(url, {"ended_on": "", "ownership_percentage": "99"})
    assert response.status_code == 403
    rel.refresh_from_db()
    assert rel.ownership_percentage != Decimal("99")


def test_history_version_page_masks_national_id(staff_client, people):
    version = people.jane.history.earliest().history_id
    html = staff_client.get(f"{CHANGELIST}{people.jane.pk}/history/{version}/").content.decode()
    assert "Okafor" in html
    assert JANE_NATIONAL_ID not in html and "*****456C" in html


def test_view_only_staff_cannot_run_lifecycle_actions(staff_client, people):
    staff_client.user.user_permissions.set(Permission.objects.filter(codename="view_customer"))
    run_action(staff_client, "block", people.jane)
    people.jane.refresh_from_db()
    assert people.jane.status != Customer.Status.BLOCKED


def test_malformed_history_version_is_404(staff_client, people):
    assert staff_client.get(f"{CHANGELIST}{people.jane.pk}/history/abc/").status_code == 404


# --- refusals while saving: a form error on the same page, nothing half-saved ------------------


def change_post(client, customer, **overrides):
    """POST the change form of `customer` as rendered, with `overrides`."""
    data = form_fields(client.get(change_url(customer)).content.decode())
    data.update({"_save": "Save", **overrides})
    return client.post(change_url(customer), data)


def form_errors(response):
    assert response.status_code == 200, "the form should have been shown again"
    form = response.context["adminform"].form
    return {field: list(errors) for field, errors in form.errors.items()}


def test_a_service_refusal_on_save_is_a_form_error(staff_client, people, monkeypatch):
    def refuse(**kwargs):
        raise ConflictError(f"{people.jane.reference} was closed a moment ago.")

    monkeypatch.setattr(services, "update_customer", refuse)
    response = change_post(staff_client, people.jane, first_name="Janet")
    assert form_errors(response) == {
        "__all__": [f"{people.jane.reference} was closed a moment ago."]
    }
    assert 'value="Janet"' in response.content.decode()  # what was typed is kept
    people.jane.refresh_from_db()
    assert people.jane.first_name == "Jane"


def test_a_field_refusal_from_the_service_lands_on_its_field(staff_client, people, monkeypatch):
    def taken(**kwargs):
        raise ValidationError({"email": "Another customer already has this email address."})

    monkeypatch.setattr(services, "update_customer", taken)
    response = change_post(staff_client, people.jane, email="bob@example.com")
    assert form_errors(response) == {"email": ["Another customer already has this email address."]}


def test_a_relationship_refused_under_the_lock_rolls_back_the_whole_page(
    staff_client, people, monkeypatch
):
    """The customer's own change was saved before the inline row was refused: it is undone."""

    def lost_the_race(**kwargs):
        raise ValidationError({"ownership_percentage": "100% of it is already held directly."})

    monkeypatch.setattr(services, "add_relationship", lost_the_race)
    html = staff_client.get(change_url(people.acme)).content.decode()
    data = {**form_fields(html), "legal_name": "Acme Renamed Ltd", "_save": "Save"}
    data.update(
        {
            "relationships-TOTAL_FORMS": "1",
            "relationships-0-type": "shareholder",
            "relationships-0-related_customer": str(people.jane.pk),
            "relationships-0-ownership_percentage": "10",
            "relationships-0-customer": str(people.acme.pk),
        }
    )
    response = staff_client.post(change_url(people.acme), data)
    assert form_errors(response) == {
        "__all__": ["ownership percentage: 100% of it is already held directly."]
    }
    people.acme.refresh_from_db()
    assert people.acme.legal_name == "Acme Trading Ltd"  # rolled back with the refused row
    assert not Customer.history.filter(id=people.acme.pk, legal_name="Acme Renamed Ltd").exists()


# --- deleted and closed customers: a banner and read-only fields -------------------------------


def test_a_deleted_customers_page_says_so_and_is_read_only(staff_client, people):
    response = staff_client.get(change_url(people.gone))
    assert response.status_code == 200
    html = response.content.decode()
    banner = strip_tags(re.search(r'class="record-banner"[^>]*>(.*?)</p>', html, re.DOTALL)[1])
    assert " ".join(banner.split()).startswith("Deleted on ")
    assert "by someone (staff): restore to edit. Restore…" in " ".join(banner.split())
    assert 'name="first_name"' not in html and "Dana" in html
    assert f"{people.gone.pk}/lifecycle/restore/" in html
    response = change_post(staff_client, people.gone, first_name="Changed")
    assert response.status_code == 403  # not a form that fails on save
    people.gone.refresh_from_db()
    assert people.gone.first_name == "Dana"


def test_a_closed_customers_page_says_so_and_offers_no_transitions(staff_client, people):
    Customer.objects.filter(pk=people.jane.pk).update(status=Customer.Status.CLOSED)
    html = staff_client.get(change_url(people.jane)).content.decode()
    assert "Closed: this record is final." in html
    assert 'name="first_name"' not in html
    assert "/lifecycle/verify_kyc/" not in html and "/lifecycle/activate/" not in html
    assert JANE_NATIONAL_ID not in html and "*****456C" in html


# --- confirmation pages: soft delete, restore, close --------------------------------------------


def confirmation(response):
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="post" value="yes"' in html
    return [" ".join(strip_tags(li).split()) for li in re.findall(r"<li>(.*?)</li>", html)]


def test_soft_delete_asks_first_and_lists_the_relationships_it_ends(staff_client, group):
    response = run_action(staff_client, "soft_delete_selected", group.holdco)
    lines = confirmation(response)
    jane, carl, acme = group.jane, group.carl, group.acme
    holdco = group.holdco
    assert (
        f"Ends relationship: Jane Okafor ({jane.reference}) — shareholder of Okafor Holdings Ltd "
        f"({holdco.reference}), 60 %"
    ) in lines
    assert (
        f"Ends relationship: Carl Moreau ({carl.reference}) — shareholder of Okafor Holdings Ltd "
        f"({holdco.reference}), 40 %"
    ) in lines
    assert (
        f"Ends relationship: Okafor Holdings Ltd ({holdco.reference}) — shareholder of "
        f"Acme Trading Ltd ({acme.reference}), 50 %"
    ) in lines
    assert "Restoring the customer later does not bring ended relationships back." in lines
    assert Customer.objects.filter(pk=holdco.pk).exists()  # nothing happens before "Yes"
    assert CustomerRelationship.objects.filter(customer=holdco).count() == 2


def test_soft_delete_confirmation_names_what_will_refuse_it(
    staff_client, people, open_account_blocks_jane
):
    lines = confirmation(run_action(staff_client, "soft_delete_selected", people.jane))
    assert "Refused: cannot delete while account ACC-000012 is still open." in lines


def test_restore_keeps_ended_relationships_ended_and_says_so(staff_client, group):
    run_action(staff_client, "soft_delete_selected", group.holdco, confirmed=True)
    assert not CustomerRelationship.objects.filter(customer=group.holdco).exists()
    url = f"{CHANGELIST}{group.holdco.pk}/lifecycle/restore/"
    lines = confirmation(staff_client.get(url))
    assert lines[0] == "The customer becomes editable again, with the status and KYC it had."
    assert sum(line.startswith("Stays ended: ") for line in lines) == 3
    response = staff_client.post(url, {"post": "yes"}, follow=True)
    assert (SUCCESS, "Restored 1 customer.") in messages_of(response)
    assert Customer.objects.filter(pk=group.holdco.pk).exists()
    assert not CustomerRelationship.objects.filter(customer=group.holdco).exists()
    assert not CustomerRelationship.objects.filter(related_customer=group.holdco).exists()


def test_close_asks_first_then_closes(staff_client, people):
    lines = confirmation(run_action(staff_client, "close", people.bob))
    assert any(line.startswith("Status becomes closed. Closed is final") for line in lines)
    people.bob.refresh_from_db()
    assert people.bob.status == Customer.Status.ACTIVE
    response = run_action(staff_client, "close", people.bob, confirmed=True)
    assert (SUCCESS, "Closed 1 customer.") in messages_of(response)
    people.bob.refresh_from_db()
    assert people.bob.status == Customer.Status.CLOSED


# --- lifecycle buttons on the customer page ------------------------------------------------------


def lifecycle_url(customer, name):
    return f"{CHANGELIST}{customer.pk}/lifecycle/{name}/"


def test_buttons_offer_the_allowed_transitions(staff_client, people):
    html = staff_client.get(change_url(people.jane)).content.decode()
    offered = set(re.findall(rf"{people.jane.pk}/lifecycle/([a-z_]+)/", html))
    # prospect: active, blocked, closed; KYC pending: verified, rejected
    assert offered == {"activate", "block", "close", "verify_kyc", "reject_kyc", "soft_delete"}


def test_a_button_calls_the_service(staff_client, people):
    response = staff_client.post(lifecycle_url(people.jane, "verify_kyc"), follow=True)
    assert response.redirect_chain[-1][0] == change_url(people.jane)
    assert (SUCCESS, "KYC verified for 1 customer.") in messages_of(response)
    people.jane.refresh_from_db()
    assert (people.jane.kyc_status, people.jane.kyc_changed_by) == ("verified", STAFF_ACTOR)


def test_a_refused_transition_is_a_message_not_a_500(staff_client, people, monkeypatch):
    """Activating a customer whose KYC is not verified is refused by the service (its rule
    lives in customers/rules.py); the page shows the refusal."""

    def refuse(**kwargs):
        raise RuleViolation(f"{people.jane.reference}: KYC must be verified before activation.")

    monkeypatch.setattr(services, "change_status", refuse)
    for response in (
        staff_client.post(lifecycle_url(people.jane, "activate"), follow=True),
        run_action(staff_client, "activate", people.jane),
    ):
        assert response.status_code == 200
        assert (
            ERROR,
            f"{people.jane}: {people.jane.reference}: KYC must be verified before activation.",
        ) in messages_of(response)
    people.jane.refresh_from_db()
    assert people.jane.status == Customer.Status.PROSPECT


def test_lifecycle_needs_post_csrf_and_the_change_permission(staff_client, people, theirs):
    assert staff_client.get(lifecycle_url(people.jane, "verify_kyc")).status_code == 405
    assert staff_client.post(lifecycle_url(people.jane, "explode")).status_code == 404
    assert staff_client.post(lifecycle_url(theirs, "verify_kyc")).status_code == 404

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(staff_client.user)
    assert strict.post(lifecycle_url(people.jane, "verify_kyc")).status_code == 403

    staff_client.user.user_permissions.set(Permission.objects.filter(codename="view_customer"))
    assert staff_client.post(lifecycle_url(people.jane, "verify_kyc")).status_code == 403
    assert "/lifecycle/" not in staff_client.get(change_url(people.jane)).content.decode()
    people.jane.refresh_from_db()
    assert people.jane.kyc_status == Customer.KycStatus.PENDING


# --- the customer page: labels, panels, national id, sections ------------------------------------


def test_relationship_rows_are_labelled_by_holder_and_role(staff_client, group):
    html = staff_client.get(change_url(group.acme)).content.decode()
    labels = [
        " ".join(strip_tags(cell).split())
        for cell in re.findall(r'<td class="field-holder_and_role">(.*?)</td>', html, re.DOTALL)
    ]
    assert [label for label in labels if label] == [
        "Okafor Holdings Ltd — shareholder, 50 %",
        "Jane Okafor — shareholder, 10 %",
        "Bob Lindqvist — shareholder, 30 %",
    ]
    values = re.findall(r'name="relationships-\d-ownership_percentage" value="([^"]*)"', html)
    assert values == ["50", "10", "30"]  # not 50.0000


def test_ubo_panel_states_the_threshold(staff_client, group, settings):
    html = staff_client.get(change_url(group.acme)).content.decode()
    assert "at least <strong>25 %</strong> (the UBO threshold)" in html
    settings.UBO_THRESHOLD_PERCENT = Decimal("12.5")
    html = staff_client.get(change_url(group.acme)).content.decode()
    assert "at least <strong>12.5 %</strong> (the UBO threshold)" in html
    assert [row[1] for row in ubo_panel(html)] == ["Jane Okafor", "Bob Lindqvist", "Carl Moreau"]


def test_roles_held_in_other_customers_panel(staff_client, group):
    html = staff_client.get(change_url(group.jane)).content.decode()
    panel = html[html.index("field-roles_held_panel") :]
    panel = panel[: panel.index("</table>")]
    rows = [
        [strip_tags(cell).strip() for cell in re.findall(r"<td>(.*?)</td>", row, re.DOTALL)]
        for row in re.findall(r"<tr>(.*?)</tr>", panel, re.DOTALL)
        if "<td>" in row
    ]
    assert sorted(rows) == sorted(
        [
            ["Okafor Holdings Ltd", group.holdco.reference, "shareholder, 60 %"],
            ["Acme Trading Ltd", group.acme.reference, "shareholder, 10 %"],
        ]
    )
    assert f'href="{change_url(group.holdco)}"' in panel


def test_national_id_is_shown_masked_and_written_only(staff_client, people):
    html = staff_client.get(change_url(people.jane)).content.decode()
    assert JANE_NATIONAL_ID not in html
    assert "*****456C" in html
    assert re.search(r'<input type="password" name="national_id"[^>]*>', html)

    response = change_post(staff_client, people.jane, national_id="")  # blank keeps it
    assert response.status_code == 302
    people.jane.refresh_from_db()
    assert people.jane.national_id == JANE_NATIONAL_ID
    assert latest_history(people.jane).history_type == "+"  # no empty update recorded

    assert change_post(staff_client, people.jane, national_id="QQ999999D").status_code == 302
    people.jane.refresh_from_db()
    assert people.jane.national_id == "QQ999999D"


def test_only_the_sections_of_the_customers_type(staff_client, people):
    business = staff_client.get(change_url(people.acme)).content.decode()
    assert 'name="legal_name"' in business
    assert 'name="first_name"' not in business and 'name="national_id"' not in business
    person = staff_client.get(change_url(people.jane)).content.decode()
    assert 'name="first_name"' in person and 'name="legal_name"' not in person
    assert "field-beneficial_owners_panel" not in person


def test_add_page_sections_follow_the_chosen_type_by_script(staff_client, in_tenant):
    html = staff_client.get(ADD).content.decode()
    assert re.search(r'<fieldset class="[^"]*customer-type-individual', html)
    assert re.search(r'<fieldset class="[^"]*customer-type-business', html)
    assert "customers/customer_type.js" in html
    assert "<script>" not in html.replace(" ", "")  # no inline script: static files only


# --- search ---------------------------------------------------------------------------------------


def test_search_is_the_apis_ranked_search(staff_client, in_tenant, monkeypatch):
    """An exact reference outranks a newer customer whose name merely contains it."""
    exact = CustomerFactory(tenant=in_tenant, first_name="Ann", last_name="Lee")
    named = BusinessFactory(tenant=in_tenant, legal_name=f"{exact.reference} Trading Ltd")
    calls = []
    real = selectors.ranked_search
    monkeypatch.setattr(selectors, "ranked_search", lambda qs, q: calls.append(q) or real(qs, q))
    rows = listed(staff_client.get(CHANGELIST, {"q": exact.reference}))
    assert calls == [exact.reference]
    assert list(rows) == [exact.pk, named.pk]  # not newest first


def test_search_among_deleted_customers(staff_client, people):
    rows = listed(staff_client.get(CHANGELIST, {"q": "whitfield", "deleted": "deleted"}))
    assert set(rows) == {people.gone.pk}


@postgres_only
def test_search_finds_a_misspelt_name_on_postgresql(staff_client, in_tenant):
    jansen = CustomerFactory(tenant=in_tenant, first_name="Pieter", last_name="Jansen")
    CustomerFactory(tenant=in_tenant, first_name="Maria", last_name="Lopez")
    assert list(listed(staff_client.get(CHANGELIST, {"q": "Jansn"}))) == [jansen.pk]
