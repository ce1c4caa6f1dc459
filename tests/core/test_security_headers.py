"""No caching of personal data, a Content-Security-Policy the admin lives with, deploy checks."""

import re
from pathlib import Path

import pytest
from django.core.checks import run_checks
from django.test import Client

from core.context import system_scope
from core.security.checks import secret_key_problem
from core.services import issue_partner_key
from tests.core.test_settings import _start

ROOT = Path(__file__).resolve().parents[2]
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I)


def no_store(response):
    return "no-store" in response.get("Cache-Control", "")


def test_api_responses_are_not_stored(api):
    assert no_store(api.get("/api/v1/me"))


@pytest.mark.parametrize("path", ["/api/v1/me", "/api/v1/nothing-here"])
def test_api_errors_are_not_stored_either(db, path):
    assert no_store(Client().get(path))  # 401 / 404 problems


@pytest.mark.parametrize(
    "path",
    [
        "/admin/",
        "/admin/customers/customer/",
        "/admin/customers/customer/add/",
        "/admin/core/partnerkey/",
        "/admin/security/",
    ],
)
def test_admin_pages_are_not_stored(staff_client, path):
    response = staff_client.get(path)
    assert response.status_code == 200
    assert no_store(response)


def test_the_login_page_is_not_stored(db):
    assert no_store(Client().get("/admin/login/"))


def admin_pages(staff_client, in_tenant):
    from tests.customers.factories import CustomerFactory

    customer = CustomerFactory(tenant=in_tenant)
    with system_scope():
        key, _raw = issue_partner_key(tenant=in_tenant, name="k", scopes=["*"])
    return [
        (Client(), "/admin/login/"),
        (staff_client, "/admin/"),
        (staff_client, "/admin/customers/customer/"),
        (staff_client, f"/admin/customers/customer/{customer.pk}/change/"),
        (staff_client, "/admin/customers/customer/add/"),
        (staff_client, f"/admin/core/partnerkey/{key.pk}/change/"),
        (staff_client, "/admin/security/"),
    ]


def test_admin_pages_render_under_the_csp(staff_client, in_tenant):
    """The policy allows scripts and styles from our own origin only; the admin pages must
    therefore carry no inline script or style that a browser would block."""
    for client, path in admin_pages(staff_client, in_tenant):
        response = client.get(path)
        assert response.status_code == 200, path
        policy = response["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy
        html = response.content.decode()
        assert not INLINE_SCRIPT.search(html), path
        assert " style=" not in html and "<style" not in html, path
        assert " onclick=" not in html and " onload=" not in html, path


def test_the_env_example_placeholder_is_refused():
    example = (ROOT / ".env.example").read_text()
    placeholder = re.search(r"^SECRET_KEY=(.*)$", example, re.M).group(1).strip()
    assert secret_key_problem(placeholder) == "is a published placeholder"


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("insecure-local-development-key-never-use-in-production", "published placeholder"),
        ("django-insecure-" + "k" * 50, "published placeholder"),
        ("short-but-random-Zq8", "shorter than 50"),
        ("ab" * 40, "fewer than 5 distinct"),
    ],
)
def test_unsafe_secret_keys(key, problem):
    assert problem in secret_key_problem(key)


def test_a_random_secret_key_passes():
    import secrets

    assert secret_key_problem(secrets.token_urlsafe(50)) is None


def test_deploy_check_is_an_error(settings):
    settings.SECRET_KEY = "change-me-to-50-or-more-random-characters-from-a-secret-store"
    errors = [m for m in run_checks(include_deployment_checks=True) if m.id == "ledgerline.E001"]
    assert errors and errors[0].is_serious()
    assert not [m for m in run_checks() if m.id == "ledgerline.E001"]  # deploy checks only


def test_check_deploy_fails_with_the_placeholder():
    result = _start(
        {
            "DEBUG": "false",
            "SECRET_KEY": "change-me-to-50-or-more-random-characters-from-a-secret-store",
            "ALLOWED_HOSTS": "bank.example",
        },
        code="from django.core.management import call_command; call_command('check', deploy=True)",
    )
    assert result.returncode != 0
    assert "ledgerline.E001" in result.stderr


def test_lockout_is_configured_from_the_environment():
    result = _start(
        {
            "DEBUG": "true",
            "LOGIN_FAILURE_LIMIT": "7",
            "LOGIN_LOCKOUT_MINUTES": "15",
            "LOGIN_LOCKOUT_PARAMETERS": "username, ip_address+user_agent",
            "STAFF_IDLE_TIMEOUT_MINUTES": "10",
            "STAFF_REQUIRE_2FA": "true",
        },
        code="from django.conf import settings as s; print(s.AXES_FAILURE_LIMIT, "
        "s.AXES_COOLOFF_TIME, s.AXES_LOCKOUT_PARAMETERS, s.STAFF_IDLE_TIMEOUT, "
        "s.SESSION_COOKIE_AGE, s.STAFF_REQUIRE_2FA)",
    )
    assert result.stdout.strip() == (
        "7 0:15:00 ['username', ['ip_address', 'user_agent']] 0:10:00 660 True"
    )


def test_an_unknown_lockout_parameter_stops_start_up_with_one_line():
    result = _start({"DEBUG": "true", "LOGIN_LOCKOUT_PARAMETERS": "username,cookie"})
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "LOGIN_LOCKOUT_PARAMETERS has 'cookie'" in lines[0]
