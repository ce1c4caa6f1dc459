import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from core.context import system_scope
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
