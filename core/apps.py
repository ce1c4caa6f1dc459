from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Partner access and platform"

    def ready(self):
        # Registers the system checks; connects the history-context and security receivers.
        from core import checks, history  # noqa: F401
        from core.security import checks as security_checks  # noqa: F401
        from core.security import sessions, two_factor  # noqa: F401
