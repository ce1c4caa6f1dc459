from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Partner access and platform"

    def ready(self):
        from core import history  # noqa: F401  (connects the history-context receiver)
