"""Base of operator commands: they act in system scope, as `system:<command>` in the audit."""

from django.core.management.base import BaseCommand

from core.context import actor_context, system_scope


def command_name(command):
    return command.__class__.__module__.rsplit(".", 1)[-1]


class SystemCommandMixin:
    def execute(self, *args, **options):
        with system_scope(), actor_context(actor=f"system:{command_name(self)}", channel="command"):
            return super().execute(*args, **options)


class SystemCommand(SystemCommandMixin, BaseCommand):
    pass
