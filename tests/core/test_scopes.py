"""API scopes come from the apps (AppConfig.ready()), and `create_partner_key` works as the
README shows it."""

import shlex
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from core import scopes
from core.admin import PartnerKeyForm
from core.context import tenant_context
from core.models import PartnerKey
from core.services import validate_scopes

CONTRACT_SCOPES = {
    "customers:read",
    "customers:write",
    "accounts:read",
    "accounts:write",
    "lending:read",
    "lending:write",
    "lending:approve",
    "audit:read",
}


@pytest.fixture
def extra_scope():
    """A scope some new app registers; unregistered afterwards."""
    scopes.register_scopes({"reports:read": "read reports"})
    yield "reports:read"
    scopes._scopes.pop("reports:read")


def test_the_apps_register_the_contracts_scopes():
    assert set(scopes.api_scopes()) == CONTRACT_SCOPES


def test_only_registered_scopes_are_accepted(extra_scope):
    assert validate_scopes([extra_scope, "*"]) == ["*", extra_scope]
    with pytest.raises(ValueError, match="Unknown scope"):
        validate_scopes(["money:print"])


def test_key_admin_offers_exactly_the_registered_scopes(in_tenant, extra_scope):
    offered = [value for value, _label in PartnerKeyForm().fields["scopes"].choices]
    assert offered == ["*", *scopes.api_scopes()]
    assert extra_scope in offered
    form = PartnerKeyForm(data={"name": "x", "scopes": ["money:print"]})
    assert "scopes" in form.errors


@pytest.mark.parametrize("bad", ["", "*", " customers:read"])
def test_a_scope_name_must_be_plain(bad):
    with pytest.raises(ValueError):
        scopes.register_scopes({bad: "x"})


def readme_command(name):
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    [line] = [line for line in readme.splitlines() if f"manage.py {name} " in line]
    return shlex.split(line.strip())


def test_create_partner_key_runs_exactly_as_the_readme_shows(tenant, capsys):
    argv = readme_command("create_partner_key")
    assert argv[:3] == [".venv/bin/python", "manage.py", "create_partner_key"]
    call_command(*argv[2:])
    out = capsys.readouterr().out
    raw_key = out.strip().splitlines()[-1]
    assert raw_key.startswith("ll_")
    with tenant_context(tenant):
        key = PartnerKey.objects.get(name="Acme Pay")
    assert key.scopes == ["customers:read", "customers:write"] and key.matches(raw_key)


def test_create_partner_key_names_the_known_scopes_when_refusing_one(tenant):
    with pytest.raises(CommandError, match=r"Unknown scope\(s\): x:y\. Known: .*customers:read"):
        call_command("create_partner_key", "--tenant", "harbour", "--name", "x", "--scopes", "x:y")
