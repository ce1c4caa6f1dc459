from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core: tenants and partner access"

    def ready(self):
        # Registers the system checks; connects the history-context receiver.
        from core import checks, history  # noqa: F401
