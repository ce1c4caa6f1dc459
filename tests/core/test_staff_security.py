"""Staff login lockout and records, sessions (idle expiry, logout everywhere), the second factor."""

from datetime import timedelta
from unittest.mock import Mock

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.management import call_command
from django.http import HttpRequest
from django.test import Client
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from core.security.sessions import ACTIVITY_KEY, EPOCH_KEY, current_epoch, end_all_sessions
from tests.core.logins import BROWSER, PASSWORD, browser, logged_in, post_login, session_exists
from tests.factories import StaffMembershipFactory, UserFactory

LIMIT = 3


@pytest.fixture(autouse=True)
def _small_failure_limit(settings):
    settings.AXES_FAILURE_LIMIT = LIMIT
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # django-otp's own delay after a wrong code


@pytest.fixture
def clerk(tenant):
    return StaffMembershipFactory(tenant=tenant, user__username="clerk").user


@pytest.fixture
def other_clerk(tenant):
    return StaffMembershipFactory(tenant=tenant, user__username="other").user


def fail(client, username, times, ip="198.51.100.7"):
    for _ in range(times):
        response = post_login(client, username, password="wrong", ip=ip)
        assert response.status_code == 200 and not logged_in(client)
    return response


# --- lockout ----------------------------------------------------------------------------------


def test_lockout_per_user_after_the_limit_even_with_the_right_password(clerk):
    fail(browser(), "clerk", LIMIT - 1)
    response = post_login(browser(), "clerk", password="wrong")
    assert response.status_code == 429
    assert "Sign-in temporarily locked" in response.content.decode()
    # From another address too, and with the right password: the user is locked.
    client = browser()
    response = post_login(client, "clerk", ip="203.0.113.9")
    assert response.status_code == 429 and not logged_in(client)


def test_lockout_per_address_across_usernames(clerk, other_clerk):
    fail(browser(), "nobody", LIMIT - 1)
    assert post_login(browser(), "someone-else", password="wrong").status_code == 429
    client = browser()
    assert post_login(client, "clerk").status_code == 429  # same address: locked
    assert not logged_in(client)
    client = browser()
    assert post_login(client, "other", ip="203.0.113.9").status_code == 302  # elsewhere: fine


def test_below_the_limit_a_right_password_logs_in_and_resets_the_count(clerk):
    fail(browser(), "clerk", LIMIT - 1)
    client = browser()
    assert post_login(client, "clerk").status_code == 302 and logged_in(client)
    assert not AccessAttempt.objects.filter(username="clerk").exists()


def test_the_lock_lifts_after_the_cool_off(clerk, settings):
    fail(browser(), "clerk", LIMIT - 1)
    assert post_login(browser(), "clerk", password="wrong").status_code == 429
    assert post_login(browser(), "clerk").status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME)
    client = browser()
    assert post_login(client, "clerk").status_code == 302 and logged_in(client)


def test_an_operator_unlocks_a_user(clerk):
    fail(browser(), "clerk", LIMIT - 1)
    assert post_login(browser(), "clerk", password="wrong").status_code == 429
    call_command("axes_reset_username", "clerk", verbosity=0)
    assert post_login(browser(), "clerk", ip="203.0.113.9").status_code == 302


def test_failures_and_successes_are_recorded_with_address_and_agent(clerk):
    fail(browser(), "clerk", 1, ip="203.0.113.50")
    failure = AccessFailureLog.objects.get(username="clerk")
    assert (failure.ip_address, failure.user_agent) == ("203.0.113.50", BROWSER)
    post_login(browser(), "clerk", ip="203.0.113.51")
    success = AccessLog.objects.get(username="clerk")
    assert (success.ip_address, success.user_agent) == ("203.0.113.51", BROWSER)


def test_the_recorded_address_is_the_proxy_aware_client_address(clerk, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    Client().post(
        "/admin/login/",
        {"username": "clerk", "password": "wrong"},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="192.0.2.1, 203.0.113.60",
    )
    assert AccessFailureLog.objects.get().ip_address == "203.0.113.60"


def test_django_login_signals_still_fire(clerk):
    seen = []

    def on_success(sender, user, **kwargs):
        seen.append(("in", user.username))

    def on_failure(sender, credentials, **kwargs):
        seen.append(("failed", credentials["username"]))

    user_logged_in.connect(on_success)
    user_login_failed.connect(on_failure)
    try:
        post_login(browser(), "clerk", password="wrong")
        post_login(browser(), "clerk")
    finally:
        user_logged_in.disconnect(on_success)
        user_login_failed.disconnect(on_failure)
    assert seen == [("failed", "clerk"), ("in", "clerk")]


def test_the_test_clients_login_works_when_given_a_request(clerk):
    client = Client()
    assert client.login(request=HttpRequest(), username="clerk", password=PASSWORD)
    assert client.get("/admin/").status_code == 200


def test_login_records_are_read_only_and_scoped_for_auditors(clerk, other_tenant):
    StaffMembershipFactory(tenant=other_tenant, user__username="theirs")
    fail(browser(), "clerk", 1)
    fail(browser(), "theirs", 1, ip="203.0.113.9")
    auditor = StaffMembershipFactory(tenant=clerk.staff_membership.tenant).user
    auditor.user_permissions.add(
        *type(auditor).user_permissions.field.related_model.objects.filter(
            codename="view_accessfailurelog"
        )
    )
    client = Client()
    client.force_login(auditor)
    page = client.get("/admin/axes/accessfailurelog/").content.decode()
    assert "clerk" in page and "theirs" not in page
    record = AccessFailureLog.objects.get(username="clerk")
    assert client.post(f"/admin/axes/accessfailurelog/{record.pk}/delete/").status_code == 403
    root = UserFactory(username="root", is_superuser=True)
    client.force_login(root)
    page = client.get("/admin/axes/accessfailurelog/").content.decode()
    assert "clerk" in page and "theirs" in page


# --- sessions ---------------------------------------------------------------------------------


def test_logout_ends_the_session_on_the_server(clerk):
    client = browser()
    post_login(client, "clerk")
    key = client.session.session_key
    assert session_exists(key)
    client.post("/admin/logout/")
    assert not session_exists(key)
    replay = browser()
    replay.cookies["sessionid"] = key
    assert replay.get("/admin/").status_code == 302


def test_idle_session_ends(staff_client, settings):
    assert staff_client.get("/admin/").status_code == 200
    session = staff_client.session
    idle_since = timezone.now() - settings.STAFF_IDLE_TIMEOUT - timedelta(seconds=1)
    session[ACTIVITY_KEY] = idle_since.isoformat()
    session.save()
    key = session.session_key
    response = staff_client.get("/admin/", follow=True)
    assert response.redirect_chain[-1][0].startswith("/admin/login/")
    assert "ended after a period without activity" in response.content.decode()
    assert not session_exists(key)
    assert "without activity" not in staff_client.get("/admin/login/").content.decode()  # once


def test_activity_keeps_a_session_alive(staff_client, settings):
    session = staff_client.session
    almost = timezone.now() - settings.STAFF_IDLE_TIMEOUT + timedelta(minutes=1)
    session[ACTIVITY_KEY] = almost.isoformat()
    session.save()
    assert staff_client.get("/admin/").status_code == 200
    refreshed = staff_client.session[ACTIVITY_KEY]
    assert timezone.now() - timezone.datetime.fromisoformat(refreshed) < timedelta(minutes=1)


def test_idle_timeout_defaults_to_30_minutes(settings):
    assert timedelta(minutes=30) == settings.STAFF_IDLE_TIMEOUT


def test_logout_everywhere_ends_every_session_of_the_user(clerk, other_clerk):
    laptop, desk, colleague = browser(), browser(), browser()
    for client, name in [(laptop, "clerk"), (desk, "clerk"), (colleague, "other")]:
        assert post_login(client, name).status_code == 302
    assert desk.get("/admin/").status_code == 200
    response = laptop.post("/admin/security/logout-everywhere/")
    assert response.status_code == 200 and not logged_in(laptop)
    response = desk.get("/admin/", follow=True)  # the other device is out too
    assert "Your session was ended" in response.content.decode()
    assert colleague.get("/admin/").status_code == 200  # another user is not
    again = browser()
    assert post_login(again, "clerk").status_code == 302
    assert again.get("/admin/").status_code == 200  # a new login works


def test_logout_everywhere_needs_a_post(staff_client):
    assert staff_client.get("/admin/security/logout-everywhere/").status_code == 405
    assert staff_client.get("/admin/").status_code == 200


def test_operator_ends_a_users_sessions(staff_client):
    root = UserFactory(username="root", is_superuser=True)
    operator = Client()
    operator.force_login(root)
    response = operator.post(
        "/admin/auth/user/",
        {"action": "end_sessions", "_selected_action": [staff_client.user.pk]},
    )
    assert response.status_code == 302
    assert staff_client.get("/admin/").status_code == 302
    assert operator.get("/admin/").status_code == 200


def test_session_epoch_survives_a_cache_flush(staff_client):
    from django.core.cache import cache

    end_all_sessions(staff_client.user)
    cache.clear()
    assert staff_client.get("/admin/").status_code == 302


# --- second factor ----------------------------------------------------------------------------


def make_device(user, confirmed=True):
    return TOTPDevice.objects.create(user=user, name="phone", confirmed=confirmed)


def current_token(device):
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"


@pytest.mark.parametrize("required", [False, True])
def test_a_user_with_a_device_needs_the_code(clerk, settings, required):
    settings.STAFF_REQUIRE_2FA = required
    device = make_device(clerk)
    client = browser()
    response = post_login(client, "clerk")
    assert "Enter the 6-digit code" in response.content.decode() and not logged_in(client)
    wrong = f"{(int(current_token(device)) + 1) % 10**6:06d}"
    response = post_login(client, "clerk", token=wrong)
    assert "not valid" in response.content.decode() and not logged_in(client)
    assert AccessFailureLog.objects.filter(username="clerk").count() == 2
    assert post_login(client, "clerk", token=current_token(device)).status_code == 302
    assert client.get("/admin/").status_code == 200


def test_without_a_device_and_without_the_flag_a_password_is_enough(clerk, settings):
    settings.STAFF_REQUIRE_2FA = False
    client = browser()
    assert post_login(client, "clerk").status_code == 302
    assert client.get("/admin/").status_code == 200


def test_with_the_flag_a_user_without_a_device_is_led_to_enrol(clerk, settings):
    settings.STAFF_REQUIRE_2FA = True
    client = browser()
    assert post_login(client, "clerk").status_code == 302
    response = client.get("/admin/")
    assert response.status_code == 302 and response["Location"] == "/admin/security/"
    page = client.get("/admin/security/")
    assert page.status_code == 200
    assert "<svg" in page.content.decode() and "requires two-factor" in page.content.decode()
    device = TOTPDevice.objects.get(user=clerk, confirmed=False)
    response = client.post("/admin/security/", {"password": PASSWORD, "otp_token": "abcdef"})
    assert "not valid" in response.content.decode()
    response = client.post(
        "/admin/security/", {"password": "not-mine", "otp_token": current_token(device)}
    )
    assert "not your password" in response.content.decode()
    device.refresh_from_db()
    assert not device.confirmed
    response = client.post(
        "/admin/security/", {"password": PASSWORD, "otp_token": current_token(device)}
    )
    assert response.status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    assert client.get("/admin/").status_code == 200  # verified now


def test_enrolling_ends_the_users_other_sessions(clerk):
    other_device = browser()
    post_login(other_device, "clerk")
    client = browser()
    post_login(client, "clerk")
    client.get("/admin/security/")
    device = TOTPDevice.objects.get(user=clerk)
    client.post("/admin/security/", {"password": PASSWORD, "otp_token": current_token(device)})
    assert client.get("/admin/").status_code == 200
    assert other_device.get("/admin/").status_code == 302  # must log in again, with a code


def test_a_session_that_skipped_the_code_is_ended(clerk):
    make_device(clerk)
    client = Client()
    client.force_login(clerk)  # bypasses the login form and its code
    response = client.get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert not logged_in(client)


def test_operator_resets_a_device(clerk, settings):
    device = make_device(clerk)
    client = browser()
    post_login(client, "clerk", token=current_token(device))
    assert client.get("/admin/").status_code == 200
    root = UserFactory(username="root", is_superuser=True)
    operator = Client()
    operator.force_login(root)
    response = operator.post(
        "/admin/auth/user/", {"action": "reset_two_factor", "_selected_action": [clerk.pk]}
    )
    assert response["Location"] == "/admin/auth/user/"
    assert not TOTPDevice.objects.filter(user=clerk).exists()
    assert client.get("/admin/").status_code == 302  # the old session is over
    settings.STAFF_REQUIRE_2FA = True
    again = browser()
    assert post_login(again, "clerk").status_code == 302  # password only: the device is gone
    assert again.get("/admin/")["Location"] == "/admin/security/"  # and enrols again


def test_devices_are_for_platform_operators_only(staff_client):
    assert staff_client.get("/admin/otp_totp/totpdevice/").status_code == 403


def test_the_demo_logins_printed_by_make_run_log_in(db):
    """`make run` prints demo logins; with 2FA optional by default they work with a password."""
    from io import StringIO

    call_command("loaddata", "demo", verbosity=0)
    out = StringIO()
    call_command("demo_access", stdout=out)
    logins = [line.split() for line in out.getvalue().splitlines() if " password " in line]
    assert len(logins) == 2
    for _slug, _user, username, _password, password in logins:
        client = browser()
        assert post_login(client, username, password=password).status_code == 302
        assert client.get("/admin/customers/customer/").status_code == 200


def test_an_end_of_sessions_rolled_back_ends_nothing_and_the_next_one_ends_all(clerk, monkeypatch):
    """Its audit event failed, so the end is rolled back: the epoch is the stored one, and a
    session opened after it is ended by the next end that succeeds."""
    before = end_all_sessions(clerk)
    operator = Client(raise_request_exception=False)
    operator.force_login(UserFactory(username="root", is_superuser=True))
    action = {"action": "end_sessions", "_selected_action": [clerk.pk]}
    monkeypatch.setattr("core.security.admin.record_staff_change", Mock(side_effect=RuntimeError))
    assert operator.post("/admin/auth/user/", action).status_code == 500
    assert current_epoch(clerk.pk) == before
    monkeypatch.undo()
    clerk_client = Client()
    clerk_client.force_login(clerk)
    assert clerk_client.session[EPOCH_KEY] == before
    assert operator.post("/admin/auth/user/", action).status_code == 302
    assert clerk_client.get("/admin/").status_code == 302  # ended
