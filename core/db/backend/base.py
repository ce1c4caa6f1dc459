"""Django's PostgreSQL backend, with cursors that send the current tenant (core.db.tenant_setting).

Set as ENGINE by config/settings.py whenever DATABASE_URL is PostgreSQL. The setting travels in
the psycopg cursor itself, below Django's execute wrappers, so no code path that reaches the
database (ORM, raw SQL, `.iterator()`'s named cursors, migrations) can skip it.
"""

import psycopg
from django.db.backends.postgresql import base
from psycopg import sql

from core.db.tenant_setting import TenantSettingMixin, forget_sent


class TenantCursor(TenantSettingMixin, base.Cursor):
    pass


class TenantServerBindingCursor(TenantSettingMixin, base.ServerBindingCursor):
    pass


class TenantServerSideCursor(TenantSettingMixin, base.ServerSideCursor):
    pass


class TenantNamedCursor(TenantSettingMixin, psycopg.ServerCursor):
    """With server-side binding Django opens named cursors from psycopg's own class."""


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self):
        params = super().get_connection_params()
        server_binding = params["cursor_factory"] is base.ServerBindingCursor
        params["cursor_factory"] = TenantServerBindingCursor if server_binding else TenantCursor
        return params

    # Commit, rollback and a pool checkout end or replace the transaction without a statement
    # through our cursors; what was sent must not be trusted for the next transaction, which a
    # statement outside our cursors (the pool's check, a library's own cursor) may have opened.
    def get_new_connection(self, conn_params):
        connection = super().get_new_connection(conn_params)
        connection.server_cursor_factory = TenantNamedCursor
        forget_sent(connection)
        return connection

    def _commit(self):
        forget_sent(self.connection)
        return super()._commit()

    def _rollback(self):
        forget_sent(self.connection)
        return super()._rollback()

    def _set_autocommit(self, autocommit):
        forget_sent(self.connection)
        return super()._set_autocommit(autocommit)

    def _configure_role(self, connection):
        # Django composes SET ROLE through a Django cursor, which inside the pool's configure
        # callback waits for the very connection being configured; compose it with psycopg.
        if role := self.settings_dict["OPTIONS"].get("assume_role"):
            connection.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
            return True
        return False

    def create_cursor(self, name=None):
        cursor = super().create_cursor(name)
        if isinstance(cursor, base.ServerSideCursor):
            # Django builds named cursors from its own class; ours differs only in execute().
            cursor.__class__ = TenantServerSideCursor
        return cursor
