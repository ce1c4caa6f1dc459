"""Every write path of customers and core leaves exactly the events it should, each saying who,
through which channel, in which request and from which address; a rollback leaves none."""

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import Client

from audit.models import AuditEvent
from core.context import acting_as, system_scope, tenant_context
from core.errors import ConflictError
from core.models import Tenant
from core.services import issue_partner_key, revoke_partner_key
from core.signals import emit_audit_event
from customers import services
from customers.models import Customer, CustomerRelationship
from tests.audit.helpers import events, summary
from tests.core.logins import browser, post_login
from tests.customers.factories import BusinessFactory, CustomerFactory, ShareholdingFactory
from tests.customers.test_admin import change_url, form_fields
from tests.customers.test_api import BASE, JANE
from tests.factories import StaffMembershipFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def jane(in_tenant):
    return CustomerFactory(tenant=in_tenant, first_name="Jane", national_id="QQ123456C")


def new_events(since_id, **filters):
    return events(id__gt=since_id, **filters)


def last_id():
    with system_scope():
        return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def test_api_create_and_patch_record_partner_key_channel_request_and_ip(api, tenant):
    start = last_id()
    created = api.client.post(
        BASE,
        JANE,
        content_type="application/json",
        headers={**api._headers(None), "X-Request-ID": "req-api-create-1"},
        REMOTE_ADDR="198.51.100.4",
    )
    assert created.status_code == 201, created.content
    ref = created.json()["reference"]
    patched = api.client.patch(
        f"{BASE}/{ref}",
        {"first_name": "Janet"},
        content_type="application/json",
        headers={**api._headers(None), "X-Request-ID": "req-api-patch-1"},
        REMOTE_ADDR="198.51.100.4",
    )
    assert patched.status_code == 200, patched.content
    create, update = new_events(start, resource_type="customers.customer")
    assert (create.action, update.action) == ("create", "update")
    assert update.changes == {"first_name": ["Jane", "Janet"]}
    for event, request_id in ((create, "req-api-create-1"), (update, "req-api-patch-1")):
        assert event.resource_id == ref
        assert event.tenant_id == tenant.pk
        assert event.actor.startswith("partner_key:")
        assert event.channel == "api"
        assert event.request_id == request_id
        assert event.ip_address == "198.51.100.4"
    # Exactly these: no event for the reference counter, the idempotency store or the key's use.
    assert [e.resource_type for e in new_events(start)] == ["customers.customer"] * 2


def test_api_relationship_belongs_to_both_customers_histories(api, in_tenant, other_tenant):
    with tenant_context(other_tenant):  # so that this bank's relationship 1 has another pk
        ShareholdingFactory(customer=BusinessFactory(tenant=other_tenant))
    jane = CustomerFactory(tenant=in_tenant)
    acme = BusinessFactory(tenant=in_tenant)
    start = last_id()
    response = api.post(
        f"{BASE}/{acme.reference}/relationships",
        {"type": "shareholder", "related_customer": jane.reference, "ownership_percentage": "60"},
    )
    assert response.status_code == 201, response.content
    (event,) = new_events(start)
    assert (event.action, event.resource_type) == ("create", "customers.customerrelationship")
    relationship = CustomerRelationship.objects.get(customer=acme)
    assert response.json()["id"] == relationship.number != relationship.pk
    assert event.resource_id == str(relationship.number)  # the id the API shows, per bank
    assert event.related == sorted(
        [f"customers.customer:{jane.reference}", f"customers.customer:{acme.reference}"]
    )
    for customer in (jane, acme):
        history = api.get(f"{BASE}/{customer.reference}/history").json()["data"]
        assert history[0]["id"] == event.pk
        old, new = history[0]["changes"]["ownership_percentage"]
        assert old is None and Decimal(new) == 60


def test_admin_edit_records_staff_user_admin_channel_request_and_ip(staff_client, jane):
    start = last_id()
    data = {**form_fields(staff_client.get(change_url(jane)).content.decode()), "first_name": "Jo"}
    data["_save"] = "Save"
    response = staff_client.post(
        change_url(jane),
        data,
        headers={"X-Request-ID": "req-admin-1", "User-Agent": "browser/1"},
        REMOTE_ADDR="203.0.113.9",
    )
    assert response.status_code == 302, response.content
    (event,) = new_events(start)
    assert (event.action, event.resource_id) == ("update", jane.reference)
    assert event.changes == {"first_name": ["Jane", "Jo"]}
    assert (event.actor, event.channel) == ("user:hana", "admin")
    assert (event.request_id, event.ip_address, event.user_agent) == (
        "req-admin-1",
        "203.0.113.9",
        "browser/1",
    )


def test_admin_history_page_shows_channel(staff_client, jane):
    html = staff_client.get(f"{change_url(jane).removesuffix('change/')}history/").content.decode()
    assert '<th scope="col">Channel</th>' in html
    # created by the factory, outside any request
    assert '<td class="history-channel">command</td>' in html


def test_command_records_system_actor_and_command_channel(tenant):
    start = last_id()
    call_command("create_partner_key", tenant="harbour", name="cli", scopes=["audit:read"])
    (event,) = new_events(start)
    assert (event.action, event.resource_type) == ("create", "core.partnerkey")
    assert (event.actor, event.channel, event.tenant_id) == (
        "system:create_partner_key",
        "command",
        tenant.pk,
    )
    assert event.changes["name"] == [None, "cli"]
    assert "secret_hash" not in event.changes  # the hash stands for the secret: never logged


def test_services_record_their_lifecycle_steps(jane, django_user_model):
    clerk = django_user_model.objects.create_user("clerk", password="x-long-password-1")
    start = last_id()
    services.change_status(customer=jane, status="blocked", by=clerk)
    services.soft_delete_customer(customer=jane, by="system:cleanup")
    services.restore_customer(customer=jane, by=clerk)
    assert [(e.action, e.actor, e.channel, e.changes.get("status")) for e in new_events(start)] == [
        ("update", "user:clerk", "command", ["prospect", "blocked"]),
        ("soft_delete", "system:cleanup", "command", None),
        ("restore", "user:clerk", "command", None),
    ]


def test_partner_key_issue_and_revoke(tenant):
    start = last_id()
    with system_scope():
        key, _raw = issue_partner_key(tenant=tenant, name="k", scopes=[], by="system:ops")
        revoke_partner_key(key=key, by="system:ops")
    create, revoke = new_events(start)
    assert (create.action, revoke.action) == ("create", "update")
    assert revoke.changes["is_active"] == [True, False]
    # Named as its actor is (partner_key:<prefix>), not by its database id.
    assert revoke.resource_id == key.prefix and revoke.tenant_id == tenant.pk


def test_a_bank_is_named_by_its_slug(db):
    start = last_id()
    with system_scope():
        bank = Tenant.objects.create(slug="north-bank", name="North Bank")
    [created] = new_events(start, resource_type="core.tenant")
    assert (created.action, created.resource_id, created.tenant_id) == (
        "create",
        "north-bank",
        bank.pk,
    )


def test_partner_key_revoked_in_the_back_office(staff_client, tenant):
    with system_scope():
        key, _raw = issue_partner_key(tenant=tenant, name="k", scopes=[])
    start = last_id()
    staff_client.post(
        "/admin/core/partnerkey/",
        {"action": "revoke_selected", "_selected_action": [key.pk]},
        REMOTE_ADDR="198.51.100.9",
    )
    (revoke,) = new_events(start)
    assert (revoke.action, revoke.actor, revoke.channel) == ("update", "user:hana", "admin")
    assert revoke.changes["is_active"] == [True, False]
    assert revoke.resource_id == key.prefix and revoke.ip_address == "198.51.100.9"


def test_explicit_event_through_the_core_signal(in_tenant):
    with acting_as("system:posting"):
        emit_audit_event(
            action="deposit",
            resource_type="accounts.account",
            resource_id="ACC-1",
            changes={"balance": ["0.00", "10.00"]},
            related=["customers.customer:CUS-000009"],
        )
    (event,) = events(action="deposit")
    assert (event.tenant_id, event.actor, event.resource_id) == (
        in_tenant.pk,
        "system:posting",
        "ACC-1",
    )
    assert event.related == ["customers.customer:CUS-000009"]


def test_rolled_back_change_leaves_no_event(in_tenant, jane):
    start = last_id()
    with pytest.raises(RuntimeError), transaction.atomic():
        CustomerFactory(tenant=in_tenant)
        services.change_kyc_status(customer=jane, kyc_status="verified")
        services.change_status(customer=jane, status="active")
        raise RuntimeError("the request failed after the writes")
    with pytest.raises(ConflictError):  # a refused service call writes nothing either
        services.change_status(customer=jane, status="dormant")
    assert new_events(start) == []
    assert Customer.objects.count() == 1


def test_staff_logins_and_failures_are_recorded(tenant):
    StaffMembershipFactory(tenant=tenant, user__username="ivo")
    client = Client()
    start = last_id()
    ok = client.post(
        "/admin/login/",
        {"username": "ivo", "password": "correct-horse-battery"},
        REMOTE_ADDR="192.0.2.1",
    )
    assert ok.status_code == 302
    Client().post(
        "/admin/login/", {"username": "ivo", "password": "wrong"}, REMOTE_ADDR="192.0.2.2"
    )
    Client().post("/admin/login/", {"username": "nobody", "password": "x"})
    login, failed, unknown = new_events(start)
    assert (login.action, login.actor, login.resource_id, login.tenant_id) == (
        "login",
        "user:ivo",
        "ivo",
        tenant.pk,
    )
    assert (login.channel, login.ip_address) == ("admin", "192.0.2.1")
    assert (failed.action, failed.actor, failed.ip_address, failed.tenant_id) == (
        "login_failed",
        "anonymous",
        "192.0.2.2",
        tenant.pk,
    )
    assert "wrong" not in str(failed.changes)
    assert (unknown.action, unknown.resource_id, unknown.tenant_id) == (
        "login_failed",
        "nobody",
        None,
    )


def test_a_lockout_is_recorded_with_the_attempt_that_caused_it(tenant, settings):
    settings.AXES_FAILURE_LIMIT = 2
    StaffMembershipFactory(tenant=tenant, user__username="ivo")
    start = last_id()
    for _ in range(2):
        post_login(browser(), "ivo", password="wrong", ip="192.0.2.9")
    # Locked: even the right password is refused, and that attempt is recorded too.
    assert post_login(browser(), "ivo", ip="192.0.2.9").status_code == 429
    recorded = new_events(start)
    assert [e.action for e in recorded] == [
        "login_failed",
        *("lockout", "login_failed"),  # the second failure reaches the limit
        *("lockout", "login_failed"),  # the refused attempt
    ]
    assert {(e.resource_id, e.tenant_id, e.actor, e.channel, e.ip_address) for e in recorded} == {
        ("ivo", tenant.pk, "anonymous", "admin", "192.0.2.9")
    }


def test_national_id_never_in_clear_in_events_api_or_export(api, staff_client, tenant):
    response = api.post(BASE, JANE)
    ref = response.json()["reference"]
    api.patch(f"{BASE}/{ref}", {"national_id": "ZZ987654D"})
    with tenant_context(tenant):
        stored = [str(e.changes) for e in AuditEvent.objects.all()]
    texts = [
        *stored,
        api.get("/api/v1/audit-events").content.decode(),
        api.get(f"{BASE}/{ref}/history").content.decode(),
        b"".join(staff_client.get("/admin/audit/auditevent/export.csv").streaming_content).decode(),
    ]
    for text in texts:
        assert "AB123456C" not in text and "ZZ987654D" not in text
    assert any("*****654D" in text for text in texts[:1])
    assert summary(resource_id=ref) == [
        ("create", "customers.customer", ref),
        ("update", "customers.customer", ref),
    ]
