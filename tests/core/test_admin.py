import re

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import ERROR
from django.test import Client
from django.utils.html import strip_tags

from core import admin as core_admin
from core.admin_base import actor_display
from core.context import system_scope
from core.errors import ConflictError
from core.models import PartnerKey
from core.services import issue_partner_key
from tests.factories import UserFactory


@pytest.fixture
def keys(tenant, other_tenant):
    with system_scope():
        issue_partner_key(tenant=tenant, name="ours", scopes=[])
        issue_partner_key(tenant=other_tenant, name="theirs", scopes=[])


def test_site_title(staff_client):
    assert b"Ledgerline back office" in staff_client.get("/admin/").content


def working_in(html):
    match = re.search(r'<div id="working-in"[^>]*>(.*?)</div>', html, re.DOTALL)
    return " ".join(strip_tags(match[1]).split()) if match else None


@pytest.mark.parametrize(
    "url",
    [
        "/admin/",
        "/admin/customers/customer/",
        "/admin/customers/customer/add/",
        "/admin/core/partnerkey/",
        "/admin/password_change/",
    ],
)
def test_every_page_names_the_bank_the_staff_user_works_in(staff_client, url):
    response = staff_client.get(url)
    assert response.status_code == 200
    assert working_in(response.content.decode()) == "Working in: Harbour Savings"


def test_a_superuser_without_membership_works_in_all_banks(db):
    client = Client()
    client.force_login(UserFactory(username="root", is_superuser=True))
    html = client.get("/admin/").content.decode()
    assert working_in(html) == "Working in: All banks (platform superuser)"


def test_the_login_page_names_no_bank(db):
    assert working_in(Client().get("/admin/login/").content.decode()) is None


def test_app_groups_are_named_for_staff_work_and_ordered(db):
    client = Client()
    client.force_login(UserFactory(username="root", is_superuser=True))
    names = [app["name"] for app in client.get("/admin/").context["app_list"]]
    # Staff work first, platform plumbing last (domain apps gaining admins land in between).
    assert names[0] == "Customers"
    assert names[-2:] == ["Partner access and platform", "Staff users and groups"]


# --- refusals never answer 500 ------------------------------------------------------------------


def add_key(client, name="refused key"):
    return client.post(
        "/admin/core/partnerkey/add/",
        {"name": name, "scopes": ["customers:read"], "expires_at_0": "", "expires_at_1": ""},
    )


def test_a_service_refusal_on_save_is_shown_on_the_form_and_rolls_back(staff_client, monkeypatch):
    """The service wrote its row, then refused: the page shows the refusal, nothing is kept."""

    def issue_then_refuse(**kwargs):
        issue_partner_key(**kwargs)
        raise ConflictError("This partner already has a key with these scopes.")

    monkeypatch.setattr(core_admin, "issue_partner_key", issue_then_refuse)
    response = add_key(staff_client)
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form.non_field_errors() == ["This partner already has a key with these scopes."]
    assert 'value="refused key"' in response.content.decode()
    with system_scope():
        assert not PartnerKey.objects.filter(name="refused key").exists()
        assert not PartnerKey.history.filter(name="refused key").exists()


def test_a_refusal_escaping_an_action_is_a_message(staff_client, keys, monkeypatch):
    def refuse(**kwargs):
        raise ConflictError("Keys in use by a running batch cannot be revoked now.")

    monkeypatch.setattr(core_admin, "revoke_partner_key", refuse)
    with system_scope():
        ours = PartnerKey.objects.get(name="ours")
    response = staff_client.post(
        "/admin/core/partnerkey/",
        {"action": "revoke_selected", "_selected_action": [ours.pk], "index": "0"},
        follow=True,
    )
    assert response.status_code == 200
    messages = [(m.level, m.message) for m in response.context["messages"]]
    assert messages == [(ERROR, "Keys in use by a running batch cannot be revoked now.")]
    with system_scope():
        ours.refresh_from_db()
    assert ours.is_active


@pytest.mark.parametrize(
    ("actor", "shown"),
    [
        ("user:hana", "hana (staff)"),
        ("partner_key:ab12cd34", "API key ab12cd34\u2026 (partner)"),
        ("system", "system"),
        ("system:loaddata", "system (loaddata)"),
        ("", "system"),
        ("something:else", "something:else"),
    ],
)
def test_actor_display(actor, shown):
    assert actor_display(actor) == shown


def test_staff_sees_only_their_tenant(staff_client, keys):
    content = staff_client.get("/admin/core/partnerkey/").content.decode()
    assert "ours" in content and "theirs" not in content


def test_staff_cannot_open_another_tenants_object(staff_client, keys):
    with system_scope():
        theirs = PartnerKey.objects.get(name="theirs")
    response = staff_client.get(f"/admin/core/partnerkey/{theirs.pk}/change/", follow=True)
    assert 'value="theirs"' not in response.content.decode()
    assert "doesn\u2019t exist" in response.content.decode()


def test_tenant_is_not_a_choice_for_staff_and_is_filled_on_save(staff_client, tenant):
    form = staff_client.get("/admin/core/partnerkey/add/").content.decode()
    assert 'name="tenant"' not in form
    response = staff_client.post(
        "/admin/core/partnerkey/add/",
        {
            "name": "from admin",
            "scopes": ["customers:read"],
            "expires_at_0": "",
            "expires_at_1": "",
        },
        follow=True,
    )
    assert b"shown only once" in response.content
    with system_scope():
        assert PartnerKey.objects.get(name="from admin").tenant == tenant


def test_superuser_without_membership_sees_all_tenants(db, keys):
    admin_user = UserFactory(username="root", is_superuser=True)
    client = Client()
    client.force_login(admin_user)
    content = client.get("/admin/core/partnerkey/").content.decode()
    assert "ours" in content and "theirs" in content


def test_staff_without_membership_is_refused(db):
    user = UserFactory(username="loose")
    user.user_permissions.set(Permission.objects.all())
    client = Client()
    client.force_login(user)
    assert client.get("/admin/").status_code == 302  # back to the login page


def test_partner_keys_cannot_be_hard_deleted(staff_client, keys):
    with system_scope():
        ours = PartnerKey.objects.get(name="ours")
    url = f"/admin/core/partnerkey/{ours.pk}/delete/"
    assert staff_client.get(url).status_code == 403
    assert staff_client.post(url, {"post": "yes"}).status_code == 403
    with system_scope():
        assert PartnerKey.objects.filter(pk=ours.pk).exists()


@pytest.mark.parametrize(
    "url",
    [
        "/admin/core/tenant/",
        "/admin/core/staffmembership/",
        "/admin/auth/user/",
        "/admin/auth/group/",
        "/admin/core/idempotencyrecord/",
    ],
)
def test_platform_objects_are_for_superusers_only(staff_client, url):
    staff_client.user.user_permissions.set(Permission.objects.all())  # even with every permission
    assert staff_client.get(url).status_code == 403


def test_staff_cannot_move_themselves_to_another_tenant(staff_client, other_tenant):
    staff_client.user.user_permissions.set(Permission.objects.all())
    membership = staff_client.user.staff_membership
    response = staff_client.post(
        f"/admin/core/staffmembership/{membership.pk}/change/",
        {"user": staff_client.user.pk, "tenant": other_tenant.pk},
    )
    assert response.status_code == 403
    membership.refresh_from_db()
    assert membership.tenant.slug == "harbour"


def test_superuser_across_tenants_cannot_add_tenantless_rows(db):
    admin_user = UserFactory(username="root", is_superuser=True)
    client = Client()
    client.force_login(admin_user)
    assert client.get("/admin/customers/customer/add/").status_code == 403
    assert client.get("/admin/core/partnerkey/add/").status_code == 200  # has a tenant field


def test_partner_keys_filter_by_revoked(staff_client, tenant):
    from core.services import revoke_partner_key

    with system_scope():
        kept, _raw = issue_partner_key(tenant=tenant, name="kept", scopes=[])
        gone, _raw = issue_partner_key(tenant=tenant, name="gone", scopes=[])
        revoke_partner_key(key=gone)
    for value, expected in (("yes", {gone.pk}), ("no", {kept.pk}), ("", {kept.pk, gone.pk})):
        response = staff_client.get("/admin/core/partnerkey/", {"revoked": value} if value else {})
        assert {key.pk for key in response.context["cl"].result_list} == expected
