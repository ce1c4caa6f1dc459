"""What a platform operator does to staff accounts and groups in the admin is in the audit
trail: in the user's bank's chain (the platform's for a user of no bank), by the operator,
through the admin, and never with a password in it."""

import re

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.test import Client
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.models import AuditEvent
from core.context import system_scope
from tests.factories import StaffMembershipFactory, UserFactory


@pytest.fixture
def operator(db):
    client = Client()
    client.force_login(UserFactory(username="root", is_superuser=True))
    return client


@pytest.fixture
def clerk(tenant):
    user = StaffMembershipFactory(tenant=tenant, user__username="clerk").user
    user.date_joined = user.date_joined.replace(microsecond=0)  # as the admin's form shows it
    user.save()
    return user


def events(resource_type, resource_id):
    with system_scope():
        return list(
            AuditEvent._base_manager.filter(
                resource_type=resource_type, resource_id=resource_id
            ).order_by("id")
        )


def user_form(user, **changes):
    """The admin's change form of `user` as submitted unchanged, with `changes`."""
    return {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "is_active": "on",
        **({"is_staff": "on"} if user.is_staff else {}),
        "date_joined_0": timezone.localtime(user.date_joined).strftime("%Y-%m-%d"),
        "date_joined_1": timezone.localtime(user.date_joined).strftime("%H:%M:%S"),
        **changes,
    }


def test_granting_superuser_and_a_group_is_recorded_in_the_users_bank(operator, clerk, tenant):
    group = Group.objects.create(name="Tellers")
    response = operator.post(
        f"/admin/auth/user/{clerk.pk}/change/",
        user_form(clerk, is_superuser="on", groups=[group.pk]),
    )
    assert response.status_code == 302, response.content
    (event,) = events("auth.user", "clerk")
    assert (event.action, event.tenant_id, event.actor, event.channel) == (
        "update",
        tenant.pk,
        "user:root",
        "admin",
    )
    assert event.changes == {"is_superuser": [False, True], "groups": [[], ["Tellers"]]}


def test_a_new_password_is_recorded_as_changed_never_shown(operator, clerk):
    response = operator.post(
        f"/admin/auth/user/{clerk.pk}/password/",
        {"password1": "N3w-passphrase-for-clerk", "password2": "N3w-passphrase-for-clerk"},
    )
    assert response.status_code == 302, response.content
    (event,) = events("auth.user", "clerk")
    assert event.action == "password_change"
    assert event.changes == {"password": ["[changed]", "[changed]"]}
    assert "N3w-passphrase" not in str(event.changes)


def test_a_password_form_that_changes_nothing_records_nothing(operator, clerk):
    # Django redirects a conflicting submission (password login off, but not the button that
    # turns it off) back to the form: a redirect that changed nothing.
    response = operator.post(
        f"/admin/auth/user/{clerk.pk}/password/",
        {"usable_password": "false", "set-password": "Set password"},
    )
    assert response.status_code == 302, response.content
    clerk.refresh_from_db()
    assert clerk.has_usable_password()
    assert events("auth.user", "clerk") == []


def test_a_new_password_is_stored_only_with_its_event(operator, clerk, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("audit trail unavailable")

    monkeypatch.setattr("core.security.admin.record_staff_change", fail)
    old_hash = clerk.password
    with pytest.raises(RuntimeError, match="audit trail unavailable"):
        operator.post(
            f"/admin/auth/user/{clerk.pk}/password/",
            {"password1": "N3w-passphrase-for-clerk", "password2": "N3w-passphrase-for-clerk"},
        )
    clerk.refresh_from_db()
    assert clerk.password == old_hash


def test_adding_and_deleting_a_user_are_recorded_on_the_platforms_chain(operator):
    response = operator.post(
        "/admin/auth/user/add/",
        {
            "username": "newbie",
            "password1": "Add3d-passphrase-x",
            "password2": "Add3d-passphrase-x",
            "usable_password": "true",
        },
    )
    assert response.status_code == 302, response.content
    newbie = User.objects.get(username="newbie")
    response = operator.post(f"/admin/auth/user/{newbie.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    created, deleted = events("auth.user", "newbie")
    assert (created.action, created.tenant_id, deleted.action) == ("create", None, "delete")
    assert created.changes["username"] == [None, "newbie"]
    assert "Add3d" not in str(created.changes)


def test_a_groups_permissions_are_recorded(operator):
    permission = Permission.objects.get(codename="view_customer")
    response = operator.post(
        "/admin/auth/group/add/", {"name": "Auditors", "permissions": [permission.pk]}
    )
    assert response.status_code == 302, response.content
    (event,) = events("auth.group", "Auditors")
    assert event.action == "create" and event.tenant_id is None
    assert event.changes["permissions"] == [None, [str(permission)]]


@pytest.mark.parametrize("action", ["end_sessions", "reset_two_factor"])
def test_the_security_actions_are_recorded(operator, clerk, tenant, action):
    selected = {"action": action, "_selected_action": [clerk.pk]}
    response = operator.post("/admin/auth/user/", selected)
    assert response.status_code == 302
    (event,) = events("auth.user", "clerk")
    assert (event.action, event.tenant_id, event.actor) == (action, tenant.pk, "user:root")


def test_a_users_history_page_links_to_its_audit_trail(operator, clerk, tenant):
    """Django's history page lists only the admin's own log; the trail has every change."""
    operator.post(f"/admin/auth/user/{clerk.pk}/change/", user_form(clerk, is_superuser="on"))
    html = operator.get(f"/admin/auth/user/{clerk.pk}/history/").content.decode()
    link = re.search(r'class="history-link"><a href="([^"]+)"', html).group(1)
    assert link == "/admin/audit/auditevent/?about=auth.user%3Aclerk"
    listed = operator.get(link).context["cl"].result_list
    assert [(e.action, e.resource_id, e.tenant_id) for e in listed] == [
        ("update", "clerk", tenant.pk)
    ]


def test_removing_a_users_two_factor_device_is_recorded(operator, clerk, tenant):
    """The device admin does what a reset does, one device at a time: recorded on the user."""
    device = TOTPDevice.objects.create(user=clerk, name="Phone", confirmed=True)
    response = operator.post(f"/admin/otp_totp/totpdevice/{device.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(pk=device.pk).exists()
    (event,) = events("auth.user", "clerk")
    assert (event.action, event.tenant_id, event.actor) == (
        "two_factor_device_delete",
        tenant.pk,
        "user:root",
    )
    assert event.changes == {"name": ["Phone", None]}
