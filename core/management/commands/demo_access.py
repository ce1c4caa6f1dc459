import secrets

from django.contrib.auth.models import Group, Permission
from django.core.management.base import CommandError

from core.management.base import SystemCommand
from core.models import StaffMembership
from core.services import issue_partner_key

BACK_OFFICE_GROUP = "Back office"
BACK_OFFICE_APPS = ["core", "customers", "accounts", "lending", "audit"]
# Platform-level objects that tenant staff do not manage.
PLATFORM_MODELS = ["tenant", "staffmembership"]


def ensure_back_office_group():
    """A group holding every permission staff need in the domain apps, except hard deletes."""
    group, _ = Group.objects.get_or_create(name=BACK_OFFICE_GROUP)
    permissions = (
        Permission.objects.filter(content_type__app_label__in=BACK_OFFICE_APPS)
        .exclude(codename__startswith="delete_")
        .exclude(content_type__model__in=PLATFORM_MODELS)
    )
    group.permissions.set(permissions)
    return group


class Command(SystemCommand):
    help = (
        "Give the demo staff users fresh passwords and a demo partner key, and print them. "
        "For local demos only: run after 'loaddata demo'."
    )

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000, help="Port the server listens on.")

    def handle(self, *args, port, **options):
        base = f"http://127.0.0.1:{port}"
        memberships = list(StaffMembership.objects.select_related("user", "tenant"))
        if not memberships:
            raise CommandError("No staff memberships found: run 'manage.py loaddata demo' first.")
        group = ensure_back_office_group()
        self.stdout.write(f"Demo back-office logins ({base}/admin/):")
        for membership in memberships:
            user = membership.user
            password = secrets.token_urlsafe(9)
            user.set_password(password)
            user.is_staff = True
            user.save()
            user.groups.add(group)
            self.stdout.write(
                f"  {membership.tenant.slug:<16} user {user.username:<18} password {password}"
            )
        first = memberships[0].tenant
        _key, raw_key = issue_partner_key(tenant=first, name="Demo partner", scopes=["*"])
        self.stdout.write(f"Demo partner API key for {first.slug} (all scopes):")
        self.stdout.write(f"  {raw_key}")
        self.stdout.write(f"  try: curl -H 'Authorization: Bearer {raw_key}' {base}/api/v1/me")
