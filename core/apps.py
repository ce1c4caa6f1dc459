from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Partner access and platform"

    def ready(self):
        from core import history  # noqa: F401  (connects the history-context receiver)
        from core.security import checks, sessions, two_factor  # noqa: F401  (checks, receivers)
