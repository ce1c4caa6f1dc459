from datetime import timedelta

from django.core.management.base import CommandError
from django.utils import timezone

from core.errors import ConflictError
from core.management.base import SystemCommand
from core.models import Tenant
from core.scopes import ALL_SCOPES, api_scopes
from core.services import issue_partner_key


class Command(SystemCommand):
    help = "Create a partner API key for a tenant and print it once (only its hash is stored)."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="The tenant's slug.")
        parser.add_argument("--name", required=True, help="Who the key is for, e.g. 'Acme Pay'.")
        parser.add_argument(
            "--scopes",
            nargs="+",
            required=True,
            help=f"Scopes to grant: {' '.join(api_scopes())}, or '{ALL_SCOPES}' for all.",
        )
        parser.add_argument(
            "--expires-in-days", type=int, default=None, help="Expire the key after N days."
        )

    def handle(self, *args, tenant, name, scopes, expires_in_days, **options):
        try:
            tenant_obj = Tenant.objects.get(slug=tenant)
        except Tenant.DoesNotExist:
            known = ", ".join(Tenant.objects.values_list("slug", flat=True)) or "none yet"
            raise CommandError(
                f"No tenant with slug '{tenant}'. Known tenants: {known}. "
                "Load them with 'manage.py loaddata demo' or create one in the admin."
            ) from None
        expires_at = None
        if expires_in_days is not None:
            if expires_in_days < 1:
                raise CommandError("--expires-in-days must be 1 or more.")
            expires_at = timezone.now() + timedelta(days=expires_in_days)
        try:
            key, raw_key = issue_partner_key(
                tenant=tenant_obj, name=name, scopes=scopes, expires_at=expires_at
            )
        except (ValueError, ConflictError) as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"Created partner key '{key.name}' for {tenant_obj.slug} "
            f"(prefix {key.prefix}, scopes: {' '.join(key.scopes)})."
        )
        self.stdout.write("Store it now; it is not shown again:")
        self.stdout.write(raw_key)
