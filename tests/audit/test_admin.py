"""The auditor's back office: a read-only, filterable changelist, a readable diff, and a CSV
export of the filtered selection that streams."""

import csv
import datetime
import io
import re

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from audit.services import record_event
from core.context import tenant_context
from tests.audit.helpers import deposits_at
from tests.customers.factories import CustomerFactory
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/audit/auditevent/"


@pytest.fixture
def log(tenant, other_tenant):
    with tenant_context(tenant):
        jane = CustomerFactory(tenant=tenant, first_name="Jane", national_id="QQ123456C")
        jane.first_name = "Janet"
        jane.save()
        record_event(action="deposit", resource_type="accounts.account", resource_id="ACC-1")
    with tenant_context(other_tenant):
        record_event(action="deposit", resource_type="accounts.account", resource_id="THEIRS")
    return jane


def ordered_by(page):
    """The changelist query's ORDER BY (the admin orders twice over; SQL says each once)."""
    return list(dict.fromkeys(page.context["cl"].queryset.query.order_by))


def sorted_columns(html):
    return sorted(re.findall(r'class="sortable (column-[a-z_]+) sorted descending', html))


def test_changelist_lists_own_events_with_filters(staff_client, log):
    page = staff_client.get(CHANGELIST)
    assert ordered_by(page) == ["-occurred_at", "-id"]
    html = page.content.decode()
    assert sorted_columns(html) == ["column-id", "column-occurred_at"]
    assert log.reference in html and "ACC-1" in html
    assert "THEIRS" not in html
    for title in ("resource type", "action", "channel", "actor"):
        assert f"By {title}" in html
    filtered = staff_client.get(CHANGELIST, {"action": "deposit"}).content.decode()
    assert "ACC-1" in filtered and log.reference not in filtered


def test_changelist_query_count_is_flat(staff_client, log, django_assert_max_num_queries):
    with tenant_context(log.tenant):
        for n in range(30):
            record_event(action="deposit", resource_type="accounts.account", resource_id=f"A{n}")
    with django_assert_max_num_queries(16):
        assert staff_client.get(CHANGELIST).status_code == 200


def test_detail_renders_the_diff_and_offers_no_change(staff_client, log):
    with tenant_context(log.tenant):
        from audit.models import AuditEvent

        event = AuditEvent.objects.get(resource_id=log.reference, action="update")
    html = staff_client.get(f"{CHANGELIST}{event.pk}/change/").content.decode()
    assert "<tr><th>first_name</th><td>Jane</td><td>Janet</td></tr>" in html
    assert 'type="submit"' not in html.split('id="content-main"')[1].split("</form>")[0]
    assert staff_client.get(f"{CHANGELIST}add/").status_code == 403
    assert staff_client.post(f"{CHANGELIST}{event.pk}/delete/").status_code == 403


def test_export_streams_the_filtered_selection_masked(staff_client, log, monkeypatch):
    monkeypatch.setattr("audit.admin.EXPORT_CHUNK", 1)  # one query per row: the keyset walk
    response = staff_client.get(f"{CHANGELIST}export.csv", {"resource_type": "customers.customer"})
    assert response.status_code == 200 and response.streaming
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row["action"] for row in rows] == ["update", "create"]
    assert all(row["resource_id"] == log.reference for row in rows)
    assert "*****456C" in rows[1]["changes"] and "QQ123456C" not in str(rows)


def test_export_needs_view_permission(staff_client, log):
    staff_client.user.user_permissions.remove(
        *Permission.objects.filter(content_type__app_label="audit")
    )
    assert staff_client.get(f"{CHANGELIST}export.csv").status_code == 403


def test_export_walks_events_of_the_same_instant_once_each(staff_client, tenant, monkeypatch):
    """The keyset is (occurred_at, id): a chunk boundary inside a run of equal times loses and
    repeats nothing."""
    monkeypatch.setattr("audit.admin.EXPORT_CHUNK", 2)
    instant = timezone.now() - datetime.timedelta(days=1)
    deposits_at(tenant, instant, 5)
    response = staff_client.get(f"{CHANGELIST}export.csv", {"action": "deposit"})
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row["resource_id"] for row in rows] == [f"ACC-{n}" for n in reversed(range(5))]


def test_the_platform_view_lists_and_exports_every_bank_newest_id_first(db, log, monkeypatch):
    """Across tenants only the primary key orders the log without a sort of every row."""
    monkeypatch.setattr("audit.admin.EXPORT_CHUNK", 2)
    client = Client()
    client.force_login(UserFactory(username="root", is_superuser=True))
    page = client.get(CHANGELIST)
    html = page.content.decode()
    assert "ACC-1" in html and "THEIRS" in html
    assert ordered_by(page) == ["-id"]
    assert sorted_columns(html) == ["column-id"]  # the arrows show the order the rows are in
    response = client.get(f"{CHANGELIST}export.csv")
    ids = [
        int(row["id"])
        for row in csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode()))
    ]
    assert ids == sorted(ids, reverse=True) and len(ids) == len(set(ids)) >= 4


# --- ?about=: the trail of one object, linked from its History page ---------------------------


@pytest.mark.parametrize("about", ["nonsense", "customers.customer:", ":CUS-000001"])
def test_an_about_naming_no_object_lists_nothing(staff_client, log, about):
    page = staff_client.get(CHANGELIST, {"about": about})
    assert page.status_code == 200
    assert list(page.context["cl"].result_list) == []


def test_a_platform_users_trail_link_keeps_to_the_objects_bank(db, tenant, other_tenant):
    """Both banks have a CUS-000001; the platform sees every bank's log."""
    with tenant_context(tenant):
        ours = CustomerFactory(tenant=tenant)
    with tenant_context(other_tenant):
        theirs = CustomerFactory(tenant=other_tenant)
    assert ours.reference == theirs.reference
    client = Client()
    client.force_login(UserFactory(username="root", is_superuser=True, is_staff=True))
    html = client.get(f"/admin/customers/customer/{ours.pk}/history/").content.decode()
    link = re.search(r'class="history-link"><a href="([^"]+)"', html).group(1)
    listed = client.get(link.replace("&amp;", "&")).context["cl"].result_list
    assert {(e.tenant_id, e.resource_id) for e in listed} == {(tenant.pk, ours.reference)}
