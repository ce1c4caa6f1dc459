"""System checks of core."""

from django.core.checks import Tags, Warning, register
from django.db import connections

from core.db.rls import current_role


@register(Tags.database)
def check_role_is_subject_to_rls(app_configs, databases=None, **kwargs):
    """Warn when a database role bypasses row-level security (superuser or BYPASSRLS): the
    policies would then hide nothing. Runs with `check --database default` and before
    `migrate` (which connects as MIGRATE_DATABASE_URL's owner role, privileged by design)."""
    warnings = []
    for alias in databases or ():
        connection = connections[alias]
        if connection.vendor != "postgresql" or getattr(connection, "as_migrating_role", False):
            continue
        role = current_role(connection)
        if role.bypasses_rls:
            warnings.append(Warning(role.warning(), id="ledgerline.W001", obj=alias))
    return warnings
