"""Rows loaded from fixtures get a baseline history row, so the first edit shows old -> new,
and reloading a fixture over an edit is recorded, not silent."""

from django.apps import apps
from django.core.management import call_command

from audit.models import AuditEvent
from core.context import system_scope, tenant_context
from core.models import Tenant
from customers import selectors, services
from customers.models import Customer, CustomerRelationship

TRACKED = [model for model in apps.get_models() if hasattr(model, "history")]


def history_of(customer):
    return list(customer.history.order_by("history_id"))


def test_loaded_rows_get_a_baseline_and_the_first_edit_a_real_diff(db, capsys):
    call_command("loaddata", "demo")
    assert "history row(s) for loaded rows" in capsys.readouterr().out
    with system_scope():
        harbour = Tenant.objects.get(slug="harbour")
    with tenant_context(harbour):
        jane = Customer.objects.get(reference="CUS-000001")
        [baseline] = history_of(jane)
        assert (baseline.action, baseline.actor) == ("create", "system:loaddata")
        assert baseline.channel == "command"
        assert baseline.first_name == jane.first_name
        relationship_rows = CustomerRelationship.history.filter(tenant_id=harbour.pk)
        assert relationship_rows.count() == CustomerRelationship.all_objects.count() > 0
        services.update_customer(customer=jane, first_name="Janet", by="user:clerk")
        latest = selectors.history_of(jane).order_by("-id").first()
        assert latest.changes == {"first_name": [jane.first_name, "Janet"]}


def test_reloading_records_what_it_changes_and_nothing_else(db):
    call_command("loaddata", "demo", verbosity=0)
    with system_scope():
        harbour = Tenant.objects.get(slug="harbour")
    with tenant_context(harbour):
        jane = Customer.objects.get(reference="CUS-000001")
        services.update_customer(customer=jane, first_name="Janet", by="user:clerk")
        rows_before = Customer.history.count()
    call_command("loaddata", "demo", verbosity=0)  # reverts the edit, on the record
    with tenant_context(harbour):
        assert Customer.history.count() == rows_before + 1  # one changed row, across tenants
        reverted = history_of(jane)[-1]
        assert (reverted.action, reverted.actor) == ("update", "system:loaddata")
        assert reverted.first_name == Customer.objects.get(pk=jane.pk).first_name != "Janet"


def test_if_empty_leaves_a_database_with_tenants_alone(db, capsys):
    call_command("loaddata", "demo", verbosity=0)
    with system_scope():
        harbour = Tenant.objects.get(slug="harbour")
    with tenant_context(harbour):
        jane = Customer.objects.get(reference="CUS-000001")
        services.update_customer(customer=jane, first_name="Janet", by="user:clerk")
    capsys.readouterr()
    call_command("loaddata", "demo", "--if-empty")
    out = capsys.readouterr().out
    assert "Not loading demo: the database already has tenants (harbour, northwind)" in out
    with tenant_context(harbour):
        assert Customer.objects.get(pk=jane.pk).first_name == "Janet"


def test_if_empty_loads_into_an_empty_database(db):
    call_command("loaddata", "demo", "--if-empty", verbosity=0)
    with system_scope():
        assert Tenant.objects.filter(slug="harbour").exists()


def test_every_history_row_of_a_load_is_in_the_audit_trail(db):
    call_command("loaddata", "demo", verbosity=0)
    with system_scope():
        harbour = Tenant.objects.get(slug="harbour")
        loaded = AuditEvent.objects.filter(actor="system:loaddata")
        assert loaded.count() == sum(
            model.history.filter(actor="system:loaddata").count() for model in TRACKED
        )
        assert set(loaded.values_list("channel", flat=True)) == {"command"}
    with tenant_context(harbour):
        jane = Customer.objects.get(reference="CUS-000001")
        services.update_customer(customer=jane, first_name="Janet", by="user:clerk")
    call_command("loaddata", "demo", verbosity=0)  # reverts the edit: on the record here too
    with tenant_context(harbour):
        events = selectors.history_of(jane).filter(resource_type="customers.customer")
        events = events.order_by("id")
        assert [(e.action, e.actor) for e in events] == [
            ("create", "system:loaddata"),
            ("update", "user:clerk"),
            ("update", "system:loaddata"),
        ]
        assert events.last().changes == {"first_name": ["Janet", jane.first_name]}
