"""A suspended or closed bank is locked out everywhere; platform operators are not."""

import pytest
from axes.models import AccessFailureLog
from django.core.management import CommandError, call_command
from django.test import Client

from core.admin_site import LedgerlineAdminSite
from core.context import system_scope
from core.errors import ConflictError
from core.models import PartnerKey, Tenant
from core.services import issue_partner_key
from tests.conftest import ApiClient
from tests.core.logins import browser, logged_in, post_login, session_exists
from tests.factories import StaffMembershipFactory, UserFactory

INACTIVE = [Tenant.Status.SUSPENDED, Tenant.Status.CLOSED]


def set_status(tenant, status):
    tenant.status = status
    tenant.save()


@pytest.fixture
def clerk(tenant):
    return StaffMembershipFactory(tenant=tenant, user__username="clerk").user


@pytest.mark.parametrize("status", INACTIVE)
def test_staff_of_an_inactive_tenant_cannot_log_in(tenant, clerk, status):
    set_status(tenant, status)
    client = browser()
    response = post_login(client, "clerk")
    assert response.status_code == 200  # the login page again
    assert not logged_in(client)
    assert f"is {status}" in response.content.decode()
    refused = AccessFailureLog.objects.get(username="clerk")  # recorded for the auditors
    assert refused.ip_address == "198.51.100.7"


def test_staff_of_an_active_tenant_log_in(tenant, clerk):
    client = browser()
    assert post_login(client, "clerk").status_code == 302
    assert logged_in(client)


@pytest.mark.parametrize("status", INACTIVE)
def test_an_open_session_stops_at_its_next_request(staff_client, tenant, status):
    assert staff_client.get("/admin/").status_code == 200
    session_key = staff_client.session.session_key
    set_status(tenant, status)
    response = staff_client.get("/admin/customers/customer/")
    assert response.status_code == 403
    assert f"is {status} on Ledgerline" in response.content.decode()
    assert not session_exists(session_key)
    # The session is gone: the next request is a stranger's, sent to the login page.
    assert staff_client.get("/admin/").status_code == 302


def test_actions_are_refused_too(staff_client, tenant):
    set_status(tenant, Tenant.Status.CLOSED)
    response = staff_client.post(
        "/admin/core/partnerkey/add/", {"name": "late", "scopes": ["customers:read"]}
    )
    assert response.status_code == 403
    with system_scope():
        assert not PartnerKey.objects.filter(name="late").exists()


def test_admin_site_refuses_permission(rf, tenant, clerk):
    request = rf.get("/admin/")
    request.user = clerk
    site = LedgerlineAdminSite()
    assert site.has_permission(request)
    set_status(tenant, Tenant.Status.SUSPENDED)
    clerk.refresh_from_db()
    assert not site.has_permission(request)


def test_superuser_reaches_a_closed_tenant_and_reopens_it(tenant):
    set_status(tenant, Tenant.Status.CLOSED)
    root = UserFactory(username="root", is_superuser=True)
    client = Client()
    client.force_login(root)
    url = f"/admin/core/tenant/{tenant.pk}/change/"
    assert client.get(url).status_code == 200
    response = client.post(
        url, {"name": tenant.name, "status": "active", "default_currency": "EUR"}
    )
    assert response.status_code == 302, response.content
    tenant.refresh_from_db()
    assert tenant.is_active


@pytest.mark.parametrize("status", INACTIVE)
def test_issuing_a_key_for_an_inactive_tenant_is_refused(tenant, status):
    set_status(tenant, status)
    with system_scope(), pytest.raises(ConflictError, match=f"is {status}"):
        issue_partner_key(tenant=tenant, name="late", scopes=["*"])
    with pytest.raises(CommandError, match=f"is {status}"):
        call_command("create_partner_key", tenant=tenant.slug, name="late", scopes=["*"])
    with system_scope():
        assert not PartnerKey.objects.exists()


def test_admin_key_form_refuses_an_inactive_tenant(tenant, other_tenant):
    set_status(other_tenant, Tenant.Status.SUSPENDED)
    root = UserFactory(username="root", is_superuser=True)
    client = Client()
    client.force_login(root)

    def add_key(target):
        return client.post(
            "/admin/core/partnerkey/add/",
            {
                "tenant": target.pk,
                "name": f"key of {target.slug}",
                "scopes": ["customers:read"],
                "expires_at_0": "",
                "expires_at_1": "",
            },
        )

    response = add_key(other_tenant)
    assert response.status_code == 200  # the form again, with the error on the tenant
    assert "is suspended" in response.content.decode()
    assert add_key(tenant).status_code == 302  # an active tenant still gets its key
    with system_scope():
        assert list(PartnerKey.objects.values_list("name", flat=True)) == ["key of harbour"]


def test_partner_keys_of_a_closed_tenant_are_403(tenant):
    with system_scope():
        _key, raw = issue_partner_key(tenant=tenant, name="before", scopes=["*"])
    assert ApiClient(raw).get("/api/v1/me").status_code == 200
    set_status(tenant, Tenant.Status.CLOSED)
    response = ApiClient(raw).get("/api/v1/me")
    assert response.status_code == 403
    assert "not active" in response.json()["detail"]
