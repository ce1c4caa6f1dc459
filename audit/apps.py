from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit trail"

    def ready(self):
        from core.scopes import register_scopes

        register_scopes({"audit:read": "read the audit event log"})

        from audit import receivers

        receivers.connect()
