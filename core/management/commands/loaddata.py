"""`loaddata` in system scope, so fixtures can hold rows of any tenant."""

from django.core.management.commands import loaddata

from core.management.base import SystemCommandMixin


class Command(SystemCommandMixin, loaddata.Command):
    pass
