from django.db import migrations

from core.db.rls import EnableRowLevelSecurity


class Migration(migrations.Migration):
    """The audit log behind the same wall as every tenant table. Platform events (no tenant:
    superuser logins, failed logins of unknown users) are visible in system scope only."""

    dependencies = [("audit", "0002_append_only_trigger"), ("core", "0005_row_level_security")]

    operations = [
        EnableRowLevelSecurity("AuditEvent"),
        EnableRowLevelSecurity("AuditEventLink"),
        EnableRowLevelSecurity("AuditChainHead"),
    ]
