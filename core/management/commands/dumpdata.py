"""`dumpdata` in system scope, so operators can export rows of every tenant."""

from django.core.management.commands import dumpdata

from core.management.base import SystemCommandMixin


class Command(SystemCommandMixin, dumpdata.Command):
    pass
