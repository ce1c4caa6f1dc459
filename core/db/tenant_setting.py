"""The current tenant, sent to PostgreSQL transaction-locally so that row-level security
policies (core.db.rls) can enforce it.

Every statement runs with the settings that match the current `core.context` scope:

    ledgerline.tenant_id   the tenant's id in a tenant context, else ''
    ledgerline.bypass      'on' in system scope, else ''

always set with `set_config(..., true)`: transaction-local, so they vanish at COMMIT/ROLLBACK
and a pooled connection never carries one request's tenant into the next. Outside any scope both
are sent empty, so the policies match no row (fail closed) whatever the session holds.

How they travel (see docs/development.md, "The tenant in PostgreSQL"):

- A statement that opens a transaction (autocommit, or the first one inside `atomic()`) or that
  runs after the scope changed inside a transaction gets them in the same round trip:
  `SELECT set_config(...); <statement>` as one simple-protocol message, which PostgreSQL runs as
  one implicit transaction in autocommit mode. With server-side binding (prepared statements,
  which cannot carry two statements) only an autocommit statement goes this way, bound
  client-side for the occasion.
- Later statements of the same transaction with the same scope send nothing more.
- Otherwise (inside a transaction with server-side binding, named cursors, executemany,
  `sql.Composable` queries) the settings go as a statement of their own first, inside a
  transaction opened for the purpose when the connection is in autocommit mode.
"""

import re
from contextlib import contextmanager, nullcontext

import psycopg
from psycopg import ClientCursor, ServerCursor, sql
from psycopg.pq import TransactionStatus

from core.context import current_scope

TENANT_SETTING = "ledgerline.tenant_id"
BYPASS_SETTING = "ledgerline.bypass"
BYPASS_ON = "on"

_SET = "SELECT set_config('{}', {}, true), set_config('{}', {}, true)"
_SET_SQL = _SET.format(TENANT_SETTING, "%s", BYPASS_SETTING, "%s")
# Remembered on the psycopg connection: the values sent in its current transaction.
_SENT = "_ledgerline_tenant_setting"

# Statements that read or write no rows, or that PostgreSQL refuses inside a transaction block
# (which a prefixed message is): they go out as they are.
_PLAIN = re.compile(
    r"\s*(?:BEGIN|START\s+TRANSACTION|COMMIT|END|ROLLBACK|ABORT|SAVEPOINT|RELEASE|PREPARE\s+TRANSACTION"
    r"|SET|RESET|SHOW|DISCARD|LISTEN|UNLISTEN|VACUUM|CHECKPOINT|REINDEX|CLUSTER"
    r"|(?:CREATE|DROP|ALTER)\s+(?:DATABASE|TABLESPACE|SYSTEM|SUBSCRIPTION)"
    r"|(?:CREATE|DROP)\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY"
    r"|REFRESH\s+MATERIALIZED\s+VIEW\s+CONCURRENTLY)\b",
    re.IGNORECASE,
)
# Statements that end a transaction or undo part of it: what was sent may be gone.
_ENDS_OR_UNDOES = re.compile(r"\s*(?:COMMIT|END|ROLLBACK|ABORT|BEGIN|START)\b", re.IGNORECASE)


def forget_sent(conn):
    """The connection's transaction ended (or it changed hands): what was sent is gone. Called
    by the backend on commit, rollback and checkout, which do not pass through a cursor."""
    if conn is not None:
        conn.__dict__.pop(_SENT, None)


def wanted_values(scope=None):
    """(tenant_id, bypass) for `scope` (default: the current one), as the settings' text."""
    scope = current_scope() if scope is None else scope
    if scope is None:
        return ("", "")
    if scope.system:
        return ("", BYPASS_ON)
    return (str(int(scope.tenant.pk)), "")


def _text(query, conn):
    if isinstance(query, bytes):
        return query[:200].decode(errors="replace")
    if isinstance(query, sql.Composable):
        return query.as_string(conn)[:200]
    return query[:200]


class TenantSettingMixin:
    """Mixed into the psycopg cursor classes Django uses (see core.db.backend)."""

    def _values_to_send(self, query):
        """The values this statement must carry, or None when the transaction has them."""
        conn = self.connection
        text = _text(query, conn)
        if _PLAIN.match(text):
            if _ENDS_OR_UNDOES.match(text):  # incl. ROLLBACK TO SAVEPOINT, which undoes set_config
                conn.__dict__.pop(_SENT, None)
            return None
        status = conn.info.transaction_status
        values = wanted_values()
        if status == TransactionStatus.INTRANS and conn.__dict__.get(_SENT) == values:
            return None
        if status not in (TransactionStatus.IDLE, TransactionStatus.INTRANS):
            return None  # a failed transaction refuses every statement anyway
        conn.__dict__[_SENT] = values  # IDLE: this statement opens the transaction
        return values

    def _can_prefix(self, query):
        return not isinstance(self, ServerCursor) and isinstance(query, (str, bytes))

    def _opens_transaction(self):
        conn = self.connection
        return conn.autocommit and conn.info.transaction_status == TransactionStatus.IDLE

    @contextmanager
    def _sent_first(self, values):
        """Send `values` as a statement of their own, in a transaction when there is none."""
        conn = self.connection
        with conn.transaction() if self._opens_transaction() else nullcontext():
            with psycopg.Cursor(conn) as cursor:
                cursor.execute(_SET_SQL, values)
            yield

    def execute(self, query, params=None, **kwargs):
        values = self._values_to_send(query)
        if values is None:
            return super().execute(query, params, **kwargs)
        if self._can_prefix(query):
            if isinstance(self, ClientCursor):
                return self._execute_prefixed(query, params, values, **kwargs)
            if self._opens_transaction():
                # Server-side binding cannot carry two statements. A statement alone in its
                # transaction gains little from being prepared: bind it client-side and send it
                # prefixed, one round trip instead of four (BEGIN, settings, it, COMMIT).
                if params is not None:
                    query = ClientCursor(self.connection).mogrify(query, params)
                return self._execute_prefixed(query, None, values, prepare=False)
        with self._sent_first(values):
            return super().execute(query, params, **kwargs)

    def _execute_prefixed(self, query, params, values, **kwargs):
        # The values are digits, 'on' or '': nothing to escape.
        tenant_id, bypass = values
        prefix = _SET.format(TENANT_SETTING, f"'{tenant_id}'", BYPASS_SETTING, f"'{bypass}'")
        prefix += "; "
        if isinstance(query, bytes):
            prefix = prefix.encode()
        super().execute(prefix + query, params, **kwargs)
        self.nextset()  # the caller reads the statement's own result
        return self

    def executemany(self, query, params_seq, **kwargs):
        values = self._values_to_send(query)
        if values is None:
            return super().executemany(query, params_seq, **kwargs)
        with self._sent_first(values):
            return super().executemany(query, params_seq, **kwargs)
