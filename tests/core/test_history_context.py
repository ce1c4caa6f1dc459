import pytest
from django.core.management import call_command

from core.context import system_scope
from core.models import PartnerKey
from core.services import issue_partner_key


def test_change_through_a_request_records_actor_ip_agent_and_request_id(staff_client, tenant):
    with system_scope():
        key, _ = issue_partner_key(tenant=tenant, name="before", scopes=["customers:read"])
    response = staff_client.post(
        f"/admin/core/partnerkey/{key.pk}/change/",
        {"name": "after", "scopes": ["customers:read"], "expires_at_0": "", "expires_at_1": ""},
        headers={"User-Agent": "pytest-browser/1.0", "X-Request-ID": "req-history-1"},
        REMOTE_ADDR="203.0.113.9",
    )
    assert response.status_code == 302, response.content
    with system_scope():
        row = key.history.latest()
    assert row.name == "after"
    assert row.action == "update"
    assert row.actor == "user:hana"
    assert row.history_user == staff_client.user
    assert row.ip_address == "203.0.113.9"
    assert row.user_agent == "pytest-browser/1.0"
    assert row.request_id == "req-history-1"
    assert row.tenant_id == tenant.pk


def test_change_in_a_command_records_system_command(tenant, capsys):
    call_command("create_partner_key", tenant="harbour", name="cli", scopes=["audit:read"])
    with system_scope():
        key = PartnerKey.objects.get(name="cli")
        row = key.history.get()
    assert row.action == "create"
    assert row.actor == "system:create_partner_key"
    assert key.created_by == "system:create_partner_key"
    raw_key = capsys.readouterr().out.strip().splitlines()[-1]
    assert raw_key.startswith("ll_") and key.matches(raw_key)


def test_command_refuses_unknown_tenant_with_next_step(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="loaddata demo"):
        call_command("create_partner_key", tenant="nope", name="x", scopes=["*"])


def test_revocation_is_recorded_as_an_update_by_the_revoker(staff_client, tenant):
    with system_scope():
        key, _ = issue_partner_key(tenant=tenant, name="k", scopes=[])
    staff_client.post(
        "/admin/core/partnerkey/",
        {"action": "revoke_selected", "_selected_action": [key.pk]},
    )
    with system_scope():
        key.refresh_from_db()
        assert key.history.latest().actor == "user:hana"
    assert not key.is_active and key.revoked_by == "user:hana"
