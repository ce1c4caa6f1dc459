"""Row-level security: PostgreSQL enforces tenancy behind the managers (core/db).

Everything here runs as the suite's app role (tests/conftest.py), and every PostgreSQL test
asks for the `app_role` fixture, which fails when PostgreSQL would not apply the policies.
"""

import os
import re

import pytest
from django.apps import apps
from django.db import ProgrammingError, connection, transaction
from django.db.migrations.state import ProjectState

from core.context import system_scope, tenant_context
from core.db.rls import POLICY, UNPOLICED, EnableRowLevelSecurity, table_rls_status
from core.db.tenant_setting import BYPASS_SETTING, TENANT_SETTING
from core.models import ReferenceCounter, Tenant
from customers.models import Customer
from tests.conftest import postgres_only
from tests.customers.factories import CustomerFactory

pytestmark = postgres_only


def tenant_tables():
    """Every table of a model (historical ones included) with a foreign key to Tenant."""
    tables = set()
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if field.name == "tenant" and field.related_model is Tenant:
                tables.add(model._meta.db_table)
    return tables


def test_every_tenant_table_has_an_enabled_and_forced_policy(app_role):
    tables = tenant_tables()
    assert {"customers_customer", "customers_historicalcustomer"} <= tables
    assert set(UNPOLICED) <= tables, "UNPOLICED names a table that no longer exists"
    missing = {}
    for table in sorted(tables - set(UNPOLICED)):
        enabled, forced, policies = table_rls_status(connection, table)
        names = {name for name, qual, check in policies if qual and check}
        if not (enabled and forced and POLICY in names):
            missing[table] = {"enabled": enabled, "forced": forced, "policies": names}
    assert not missing, (
        f"Tenant tables without an enabled, forced {POLICY!r} policy: {missing}. Add "
        "EnableRowLevelSecurity('<Model>') to the model's migration (docs/development.md)."
    )


def test_the_operation_reverses_cleanly(db):
    operation = EnableRowLevelSecurity("Customer")
    state = ProjectState.from_apps(apps)
    with connection.schema_editor(collect_sql=True) as editor:
        operation.database_forwards("customers", editor, state, state)
        forwards = "\n".join(editor.collected_sql)
    with connection.schema_editor(collect_sql=True) as editor:
        operation.database_backwards("customers", editor, state, state)
        backwards = "\n".join(editor.collected_sql)
    assert "FORCE ROW LEVEL SECURITY" in forwards and "WITH CHECK" in forwards
    assert "DROP POLICY" in backwards and "DISABLE ROW LEVEL SECURITY" in backwards
    with (
        pytest.raises(ValueError, match="no tenant_id"),
        connection.schema_editor(collect_sql=True) as editor,
    ):
        EnableRowLevelSecurity("Tenant").database_forwards("core", editor, state, state)


# --- what raw SQL sees and may write -----------------------------------------------------------


@pytest.fixture
def two_banks(tenant, other_tenant):
    CustomerFactory.create_batch(2, tenant=tenant)
    CustomerFactory.create_batch(3, tenant=other_tenant)
    return tenant, other_tenant


def sql(statement, params=()):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else cursor.rowcount


def visible_tenants():
    return {row[0] for row in sql("SELECT tenant_id FROM customers_customer")}


def test_raw_sql_in_a_tenant_sees_only_that_tenant(app_role, two_banks):
    a, b = two_banks
    with tenant_context(a):
        assert visible_tenants() == {a.pk}
        assert sql("SELECT count(*) FROM customers_customer WHERE tenant_id = %s", [b.pk]) == [(0,)]
        assert sql("SELECT count(*) FROM customers_historicalcustomer") == [(2,)]
    with tenant_context(b):
        assert visible_tenants() == {b.pk}


def test_raw_sql_in_a_tenant_cannot_insert_a_row_of_another(app_role, two_banks):
    a, b = two_banks
    insert = (
        "INSERT INTO core_referencecounter (tenant_id, prefix, last_value, created_at, "
        "updated_at) VALUES (%s, %s, 0, now(), now())"
    )
    with tenant_context(a):
        assert sql(insert, [a.pk, "OWN-"]) == 1
        with pytest.raises(ProgrammingError, match="row-level security"), transaction.atomic():
            sql(insert, [b.pk, "THEIR-"])
    with system_scope():
        written = ReferenceCounter.objects.filter(prefix__in=["OWN-", "THEIR-"])
        assert set(written.values_list("tenant_id", "prefix")) == {(a.pk, "OWN-")}


def test_raw_sql_in_a_tenant_cannot_update_a_row_of_another(app_role, two_banks):
    a, b = two_banks
    with tenant_context(a):
        theirs = "UPDATE customers_customer SET first_name = 'X' WHERE tenant_id = %s"
        assert sql(theirs, [b.pk]) == 0
        with pytest.raises(ProgrammingError, match="row-level security"), transaction.atomic():
            sql("UPDATE customers_customer SET tenant_id = %s", [b.pk])  # moving rows out
    with system_scope():
        assert not Customer.objects.filter(first_name="X").exists()
        assert Customer.objects.filter(tenant=a).count() == 2


def test_system_scope_sees_every_tenant(app_role, two_banks):
    a, b = two_banks
    with system_scope():
        assert visible_tenants() == {a.pk, b.pk}


def test_no_scope_sees_nothing_and_writes_nothing(app_role, two_banks):
    a, _b = two_banks
    assert visible_tenants() == set()
    assert sql("UPDATE customers_customer SET first_name = 'X'") == 0
    with pytest.raises(ProgrammingError, match="row-level security"), transaction.atomic():
        sql(
            "INSERT INTO core_referencecounter (tenant_id, prefix, last_value, created_at, "
            "updated_at) VALUES (%s, 'X-', 0, now(), now())",
            [a.pk],
        )


def test_scope_changes_inside_one_transaction_and_savepoints(app_role, two_banks):
    a, b = two_banks
    with transaction.atomic():
        with tenant_context(a):
            assert visible_tenants() == {a.pk}
        with tenant_context(b):
            assert visible_tenants() == {b.pk}
            try:
                with transaction.atomic():  # a savepoint, rolled back: it undoes set_config
                    with tenant_context(a):
                        assert visible_tenants() == {a.pk}
                    raise RuntimeError
            except RuntimeError:
                pass
            assert visible_tenants() == {b.pk}
        assert visible_tenants() == set()


def test_named_cursors_and_executemany_carry_the_tenant(app_role, two_banks):
    a, b = two_banks
    with tenant_context(a):
        rows = Customer._base_manager.order_by("pk").iterator(chunk_size=1)  # a named cursor
        assert {c.tenant_id for c in rows} == {a.pk}
        with connection.cursor() as cursor:
            insert = (
                "INSERT INTO core_referencecounter (tenant_id, prefix, last_value, created_at, "
                "updated_at) VALUES (%s, %s, 0, now(), now())"
            )
            cursor.executemany(insert, [(a.pk, "M1-"), (a.pk, "M2-")])
            with pytest.raises(ProgrammingError, match="row-level security"), transaction.atomic():
                cursor.executemany(insert, [(b.pk, "M3-")])


@pytest.mark.django_db(transaction=True)
def test_a_pooled_connection_carries_no_tenant_into_the_next_use(app_role, two_banks):
    """Outside any transaction (autocommit), through a real psycopg pool of one connection:
    tenant B, right after tenant A on the same server session, sees only B."""
    import psycopg
    from psycopg_pool import ConnectionPool

    a, b = two_banks
    params = {**connection.get_connection_params(), "autocommit": True}
    with ConnectionPool(
        kwargs=params, min_size=1, max_size=1, configure=connection._configure_connection
    ) as pool:
        seen = {}
        for tenant in (a, b):
            with pool.connection() as conn, tenant_context(tenant):
                pid = conn.info.backend_pid
                seen[tenant.pk] = {
                    r[0] for r in conn.execute("SELECT tenant_id FROM customers_customer")
                }
                # What the session holds once the statement's transaction is over: nothing.
                with psycopg.Cursor(conn) as raw:
                    raw.execute(
                        "SELECT current_setting(%s, true), current_setting(%s, true), current_user",
                        [TENANT_SETTING, BYPASS_SETTING],
                    )
                    left, bypass, user = raw.fetchone()
                assert (left, bypass) == ("", "") and user == app_role.name
            seen.setdefault("pids", set()).add(pid)
    assert seen[a.pk] == {a.pk} and seen[b.pk] == {b.pk}
    assert len(seen["pids"]) == 1, "the same server session served both tenants"
    with tenant_context(b):  # Django's own pooled connection, autocommit, after the above
        assert visible_tenants() == {b.pk}
        assert {c.tenant_id for c in Customer._base_manager.iterator(chunk_size=1)} == {b.pk}


def test_policy_leaves_the_tenant_indexes_in_use(app_role, two_banks):
    a, _b = two_banks
    with tenant_context(a):
        sql("SET LOCAL enable_seqscan = off")  # tiny tables: ask whether an index *can* serve
        plan = "\n".join(
            row[0]
            for row in sql(
                "EXPLAIN SELECT * FROM customers_customer WHERE tenant_id = %s AND reference = %s",
                [a.pk, "CUS-000001"],
            )
        )
    assert re.search(r"Index Cond: \(+tenant_id = ", plan), plan
    assert "current_setting" in plan, plan  # the policy is there, as a filter


# --- warnings when the connected role bypasses row-level security ------------------------------


def test_system_check_and_health_warn_when_the_role_bypasses_rls(
    app_role, staff_client, monkeypatch
):
    from core import checks, health
    from core.db.rls import RoleInfo

    assert checks.check_role_is_subject_to_rls(None, databases=["default"]) == []
    details = staff_client.get("/health/").json()["details"]
    assert details["database"]["role"]["name"] == app_role.name and "warnings" not in details

    superuser = RoleInfo(name="postgres", superuser=True, bypassrls=False)
    for module in (checks, health):
        monkeypatch.setattr(module, "current_role", lambda connection: superuser)
    (warning,) = checks.check_role_is_subject_to_rls(None, databases=["default"])
    assert warning.id == "ledgerline.W001" and "superuser" in warning.msg
    details = staff_client.get("/health/").json()["details"]
    assert any("row-level security" in w for w in details["warnings"])
    bypass = RoleInfo(name="etl", superuser=False, bypassrls=True)
    monkeypatch.setattr(checks, "current_role", lambda connection: bypass)
    (warning,) = checks.check_role_is_subject_to_rls(None, databases=["default"])
    assert "BYPASSRLS" in warning.msg


@pytest.fixture(params=["client-side", "server-side"])
def binding(request, app_role):
    """Django's connection with either cursor class, preparing a statement on its first run."""
    from core.db.backend.base import TenantCursor, TenantServerBindingCursor

    connection.ensure_connection()
    conn = connection.connection
    saved = conn.cursor_factory, conn.prepare_threshold
    conn.cursor_factory = {
        "client-side": TenantCursor,
        "server-side": TenantServerBindingCursor,
    }[request.param]
    conn.prepare_threshold = 1
    yield request.param
    conn.cursor_factory, conn.prepare_threshold = saved


@pytest.mark.django_db(transaction=True)
def test_both_bindings_carry_the_tenant_in_and_out_of_transactions(binding, two_banks):
    """Autocommit statements (the settings ride along) and transactions (sent first with
    server-side binding); a prepared statement re-reads the settings on every run."""
    a, b = two_banks
    count = "SELECT count(*) FROM customers_customer WHERE reference LIKE 'CUS-%%' AND id > %s"
    for tenant, rows in ((a, 2), (b, 3), (a, 2), (b, 3)):
        with tenant_context(tenant):
            assert visible_tenants() == {tenant.pk}
            assert sql(count, [0]) == [(rows,)]
            with transaction.atomic():
                assert visible_tenants() == {tenant.pk}
                assert sql(count, [0]) == [(rows,)]
    with system_scope():
        assert visible_tenants() == {a.pk, b.pk}
    assert visible_tenants() == set()
    prepared = sql(
        "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
        ["%FROM customers_customer%"],
    )
    assert prepared == [(2 if binding == "server-side" else 0,)]


@pytest.mark.skipif("DB_PREPARED_STATEMENTS" in os.environ, reason="tests the default")
def test_postgresql_prepares_repeated_statements_by_default(db):
    assert connection.features.uses_server_side_binding
    assert connection.connection.prepare_threshold == 5
