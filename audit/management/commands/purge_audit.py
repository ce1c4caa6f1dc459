"""Retention: delete audit events and history rows older than a number of days."""

from datetime import timedelta

from django.conf import settings
from django.core.management.base import CommandError
from django.utils import timezone

from audit.models import AuditChainHead
from audit.retention import purge_chain, purge_history
from core.management.base import SystemCommand


class Command(SystemCommand):
    help = (
        "Delete audit events and history rows older than --older-than DAYS, keeping every "
        "chain verifiable; refuses to go below AUDIT_MIN_RETENTION_DAYS."
    )

    def add_arguments(self, parser):
        parser.add_argument("--older-than", type=int, required=True, metavar="DAYS")

    def handle(self, *args, older_than, **options):
        minimum = settings.AUDIT_MIN_RETENTION_DAYS
        if older_than < minimum:
            raise CommandError(
                f"Refusing to purge records younger than the minimum retention of {minimum} "
                f"days (AUDIT_MIN_RETENTION_DAYS); --older-than {older_than} is below it."
            )
        cutoff = timezone.now() - timedelta(days=older_than)
        events = 0
        for tenant_id in AuditChainHead._base_manager.values_list("tenant_id", flat=True):
            events += purge_chain(tenant_id, cutoff)
        history = purge_history(cutoff)
        self.stdout.write(
            f"Purged {events} audit events and {sum(history.values())} history rows "
            f"older than {cutoff:%Y-%m-%d %H:%M} UTC."
        )
