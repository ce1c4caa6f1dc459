"""`migrate` in system scope (data migrations may touch every tenant's rows, which the policies
allow only there), connected as MIGRATE_DATABASE_URL's role when it is set."""

from django.core.management.commands import migrate

from core.db.roles import as_migrating_role
from core.management.base import SystemCommandMixin


class Command(SystemCommandMixin, migrate.Command):
    def handle(self, *args, **options):
        with as_migrating_role(options["database"]):
            return super().handle(*args, **options)
