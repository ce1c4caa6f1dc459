"""The customer back office: list, filters, search, add, actions, closure blockers, UBO panel,
relationships inline, tenant isolation and the history page, as a staff user of `tenant` sees it.
"""

import datetime
import re
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.contrib.messages import ERROR, SUCCESS
from django.utils import timezone
from django.utils.html import strip_tags

from core.context import system_scope, tenant_context
from customers.blockers import register_closure_check, unregister_closure_check
from customers.models import Customer, CustomerRelationship
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
            {"date_of_birth": (timezone.localdate() + datetime.timedelta(days=1)).isoformat()},
            "date_of_birth",
            "The date of birth cannot be in the future.",
        ),
        (
            {"phone": "12345"},
            "phone",
            "Enter the number in E.164 form: '+', country code, number; e.g. +442079460958.",
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
        "Changes (old → new)",
        "IP address",
        "Request id",
        "Version",
    ]
    who, action, changes = 1, 2, 3
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
    assert rows[0][3] == f"email: {people.jane.email} → j@example.com"


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
    from django.contrib.auth.models import Permission

    staff_client.user.user_permissions.set(Permission.objects.filter(codename="view_customer"))
    run_action(staff_client, "block", people.jane)
    people.jane.refresh_from_db()
    assert people.jane.status != Customer.Status.BLOCKED


def test_malformed_history_version_is_404(staff_client, people):
    assert staff_client.get(f"{CHANGELIST}{people.jane.pk}/history/abc/").status_code == 404
