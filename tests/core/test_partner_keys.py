from datetime import timedelta

import pytest
from django.utils import timezone

from core.context import system_scope
from core.models import PartnerKey
from core.services import issue_partner_key, revoke_partner_key
from tests.conftest import ApiClient

pytestmark = pytest.mark.urls("tests.core.urls")


def _issue(tenant, scopes=("*",), **kwargs):
    with system_scope():
        return issue_partner_key(tenant=tenant, name="p", scopes=list(scopes), **kwargs)


def _problem(response, status):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    return response.json()


def test_me_answers_tenant_and_scopes(tenant):
    _key, raw = _issue(tenant, scopes=["customers:read", "audit:read"])
    body = ApiClient(raw).get("/api/v1/me").json()
    assert body == {"tenant": "harbour", "name": "p", "scopes": ["audit:read", "customers:read"]}


def test_missing_key_is_401(db):
    body = _problem(ApiClient(None).get("/api/v1/me"), 401)
    assert "Bearer" in body["detail"]


@pytest.mark.parametrize(
    "header",
    ["Basic abc", "Bearer ", "Bearer not-a-key", "Bearer ll_short", "Token ll_abcdefgh_x"],
)
def test_malformed_key_is_401(db, client, header):
    response = client.get("/api/v1/me", headers={"Authorization": header})
    _problem(response, 401)


def test_unknown_key_is_401(tenant):
    _key, raw = _issue(tenant)
    tampered = raw[:-4] + ("AAAA" if not raw.endswith("AAAA") else "BBBB")
    assert _problem(ApiClient(tampered).get("/api/v1/me"), 401)["detail"] == (
        "The API key is not valid."
    )


def test_revoked_key_is_401(tenant):
    key, raw = _issue(tenant)
    with system_scope():
        revoke_partner_key(key=key, by="user:test")
    assert "revoked" in _problem(ApiClient(raw).get("/api/v1/me"), 401)["detail"]


def test_expired_key_is_401(tenant):
    _key, raw = _issue(tenant, expires_at=timezone.now() - timedelta(seconds=1))
    assert "expired" in _problem(ApiClient(raw).get("/api/v1/me"), 401)["detail"]


def test_suspended_tenant_is_403(tenant):
    _key, raw = _issue(tenant)
    tenant.status = "suspended"
    tenant.save()
    _problem(ApiClient(raw).get("/api/v1/me"), 403)


def test_missing_scope_is_403(tenant):
    _key, raw = _issue(tenant, scopes=["audit:read"])
    body = _problem(ApiClient(raw).get("/api/v1/test/keys"), 403)
    assert "customers:read" in body["detail"]


def test_wildcard_scope_grants_everything(tenant):
    _key, raw = _issue(tenant, scopes=["*"])
    assert ApiClient(raw).get("/api/v1/test/keys").status_code == 200


def test_last_used_at_is_recorded(tenant):
    key, raw = _issue(tenant)
    assert key.last_used_at is None
    ApiClient(raw).get("/api/v1/me")
    with system_scope():
        key.refresh_from_db()
    assert key.last_used_at is not None


def test_secret_is_never_stored_in_clear(tenant):
    key, raw = _issue(tenant)
    secret = raw.split("_", 2)[2]
    with system_scope():
        stored = PartnerKey._base_manager.filter(pk=key.pk).values().get()
    assert all(secret not in str(value) for value in stored.values())
    assert key.secret_hash != raw and len(key.secret_hash) == 64


def test_unknown_scope_is_refused(tenant):
    with pytest.raises(ValueError, match="Unknown scope"):
        _issue(tenant, scopes=["customers:read", "money:print"])
