"""Reading, sealing and tampering with the audit log in tests."""

import time
from contextlib import contextmanager

from django.db import connection
from psycopg import sql

from audit.models import AuditEvent
from audit.sealing import seal_all
from audit.services import record_event
from core.context import system_scope, tenant_context


def events(**filters):
    """Every event matching `filters`, oldest first, whatever the scope."""
    with system_scope():
        return list(AuditEvent.objects.filter(**filters).order_by("id"))


def summary(**filters):
    return [(e.action, e.resource_type, e.resource_id) for e in events(**filters)]


def deposits_at(tenant, instant, count):
    """`count` deposit events of `tenant` at the same `instant`, on ACC-0, ACC-1, ..."""
    with tenant_context(tenant):
        for n in range(count):
            record_event(
                action="deposit",
                resource_type="accounts.account",
                resource_id=f"ACC-{n}",
                occurred_at=instant,
            )


def seal_everything():
    """Seal until nothing waits. On PostgreSQL the horizon is cluster-wide: a transaction of
    another database on the same server may hold it back for a moment, so wait it out."""
    for _attempt in range(600):
        seal_all()
        with system_scope():
            if not AuditEvent._base_manager.filter(hash__isnull=True).exists():
                return
        time.sleep(0.1)
    raise AssertionError("audit events still wait to be sealed: a long transaction is running")


@contextmanager
def raw_sql_without_triggers():
    """A cursor that may change audit rows directly, as an attacker owning the table would: on
    PostgreSQL the test session leaves the app role (RESET ROLE: back to the superuser that
    opened it, to whom row-level security does not apply) and disables the triggers."""
    app_role = connection.settings_dict["OPTIONS"].get("assume_role")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("RESET ROLE")
            cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER USER")
            cursor.execute("ALTER TABLE audit_auditeventlink DISABLE TRIGGER USER")
        try:
            yield cursor
        finally:
            if connection.vendor == "postgresql":
                cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER USER")
                cursor.execute("ALTER TABLE audit_auditeventlink ENABLE TRIGGER USER")
                if app_role:
                    cursor.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(app_role)))
