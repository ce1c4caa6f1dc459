from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit trail"

    def ready(self):
        from core.scopes import register_scopes

        register_scopes({"audit:read": "read the audit event log"})

        from audit import receivers

        receivers.connect()

        from audit.links import trail_link
        from core.admin_base import HISTORY_LINKS

        HISTORY_LINKS.append(trail_link)
