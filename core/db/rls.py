"""Row-level security: PostgreSQL enforces tenancy behind the managers.

`EnableRowLevelSecurity("Customer")` in a migration gives the model's table

    ALTER TABLE ... ENABLE ROW LEVEL SECURITY;
    ALTER TABLE ... FORCE ROW LEVEL SECURITY;      -- the table owner is bound too
    CREATE POLICY tenant_isolation ON ... USING (<visible>) WITH CHECK (<visible>);

where a row is visible when its tenant_id is the tenant sent by core.db.tenant_setting, or the
transaction is in system scope. No setting (outside any scope, or a new transaction on a pooled
connection) matches no row. Superusers and BYPASSRLS roles are never subject to policies: the
app must connect as an ordinary role (docs/operations.md).

The policy reads the settings through current_setting(), which is STABLE: evaluated once per
statement, so PostgreSQL still serves the query's own `tenant_id = ...` filter from the
`(tenant_id, ...)` indexes. The bypass is a setting of its own compared as text, so no
non-numeric value is ever cast. bench/rls.py shows the plans and what the policy costs.
"""

from typing import NamedTuple

from django.db import migrations

from core.db.tenant_setting import BYPASS_ON, BYPASS_SETTING, TENANT_SETTING

POLICY = "tenant_isolation"
VISIBLE = (
    f"tenant_id = NULLIF(current_setting('{TENANT_SETTING}', true), '')::bigint"
    f" OR current_setting('{BYPASS_SETTING}', true) = '{BYPASS_ON}'"
)


class EnableRowLevelSecurity(migrations.operations.base.Operation):
    """Enable, force and add the tenant policy on `model_name`'s table (PostgreSQL only).

    One line per tenant-scoped model in its app's migration, historical models included:
    `EnableRowLevelSecurity("Account"), EnableRowLevelSecurity("HistoricalAccount")`.
    """

    reversible = True
    reduces_to_sql = True

    def __init__(self, model_name):
        self.model_name = model_name

    def deconstruct(self):
        return self.__class__.__qualname__, [self.model_name], {}

    def state_forwards(self, app_label, state):
        pass  # the database changes, the models do not

    def _table(self, app_label, schema_editor, state):
        if schema_editor.connection.vendor != "postgresql":
            return None
        model = state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return None
        if "tenant_id" not in {f.column for f in model._meta.concrete_fields}:
            raise ValueError(f"{app_label}.{self.model_name} has no tenant_id column to police.")
        return schema_editor.quote_name(model._meta.db_table)

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        table = self._table(app_label, schema_editor, to_state)
        if table is None:
            return
        schema_editor.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        schema_editor.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        schema_editor.execute(f"DROP POLICY IF EXISTS {POLICY} ON {table}")
        schema_editor.execute(
            f"CREATE POLICY {POLICY} ON {table} USING ({VISIBLE}) WITH CHECK ({VISIBLE})"
        )

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        table = self._table(app_label, schema_editor, from_state)
        if table is None:
            return
        schema_editor.execute(f"DROP POLICY IF EXISTS {POLICY} ON {table}")
        schema_editor.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        schema_editor.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")

    def describe(self):
        return f"Row-level security on {self.model_name}"

    @property
    def migration_name_fragment(self):
        return f"rls_{self.model_name.lower()}"


# Tables with a tenant column that stay outside row-level security, and why. Everything else
# with a `tenant` foreign key must have the policy (tests/core/test_rls_coverage.py checks).
UNPOLICED = {
    "core_staffmembership": "maps a staff user to a tenant; read to find the tenant, before one "
    "is known (login, TenantMiddleware); holds no customer data, like Tenant and auth_user",
    "core_historicalstaffmembership": "history of the row above",
}


def table_rls_status(connection, table):
    """(enabled, forced, policy expressions) of `table` on PostgreSQL."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relrowsecurity, c.relforcerowsecurity FROM pg_class c "
            "WHERE c.oid = to_regclass(%s)",
            [table],
        )
        row = cursor.fetchone()
        cursor.execute(
            "SELECT policyname, qual, with_check FROM pg_policies WHERE tablename = %s "
            "AND schemaname = current_schema()",
            [table],
        )
        policies = cursor.fetchall()
    enabled, forced = row if row else (False, False)
    return enabled, forced, policies


class RoleInfo(NamedTuple):
    name: str
    superuser: bool
    bypassrls: bool

    @property
    def bypasses_rls(self):
        return self.superuser or self.bypassrls

    def warning(self):
        """Why row-level security does not apply to this role, or ''."""
        if not self.bypasses_rls:
            return ""
        why = "a superuser" if self.superuser else "a BYPASSRLS role"
        return (
            f"The database role '{self.name}' is {why}: PostgreSQL applies no row-level "
            "security to it, so the tenant wall in the database is off. Connect the app as an "
            "ordinary role (docs/operations.md, 'Database roles')."
        )


def current_role(connection):
    """The role policies are applied to: the current one, after any SET ROLE."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT rolname, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
        )
        return RoleInfo(*cursor.fetchone())
