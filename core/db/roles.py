"""The two roles Ledgerline connects as on PostgreSQL (docs/operations.md, "Database roles").

DATABASE_URL is the app's ordinary role: no superuser, no BYPASSRLS, not the tables' owner, so
row-level security applies to everything it runs. MIGRATE_DATABASE_URL, when set, is the role
`manage.py migrate` uses instead: the owner, which may create tables, extensions and policies.
"""

from contextlib import contextmanager

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

_CREDENTIALS = ("USER", "PASSWORD", "HOST", "PORT")


def _close(connection):
    connection.close()
    if getattr(connection, "pool", None) is not None:
        connection.close_pool()  # pooled connections were opened with the other credentials


@contextmanager
def as_migrating_role(alias=DEFAULT_DB_ALIAS):
    """Connect `alias` with MIGRATE_DATABASE_URL's credentials for the block (no-op unset)."""
    owner = settings.MIGRATE_DATABASE
    if not owner or alias != DEFAULT_DB_ALIAS:
        yield
        return
    connection = connections[alias]
    saved = {key: connection.settings_dict[key] for key in _CREDENTIALS}
    _close(connection)
    connection.settings_dict.update({key: owner.get(key, "") for key in _CREDENTIALS})
    connection.as_migrating_role = True  # the owner is privileged by design: no role warning
    try:
        yield
    finally:
        _close(connection)
        connection.settings_dict.update(saved)
        connection.as_migrating_role = False
