from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from core.management.base import SystemCommand
from core.models import IdempotencyRecord

BATCH = 5000


class Command(SystemCommand):
    help = (
        "Delete stored Idempotency-Key responses older than IDEMPOTENCY_KEY_TTL_HOURS, in "
        "batches. Run it daily (cron or a scheduler); a purged key may be used again."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than-hours",
            type=int,
            default=settings.IDEMPOTENCY_KEY_TTL_HOURS,
            help="Age past which records go (default: IDEMPOTENCY_KEY_TTL_HOURS).",
        )

    def handle(self, *args, older_than_hours, **options):
        cutoff = timezone.now() - timedelta(hours=older_than_hours)
        stale = IdempotencyRecord.objects.filter(created_at__lt=cutoff)
        total = stale.count()
        self.stdout.write(f"{total} record(s) older than {older_than_hours} h to delete.")
        deleted = 0
        while True:
            ids = list(stale.values_list("pk", flat=True)[:BATCH])
            if not ids:
                break
            deleted += IdempotencyRecord.objects.filter(pk__in=ids).delete()[0]
            self.stdout.write(f"  deleted {deleted}/{total}")
        self.stdout.write(self.style.SUCCESS(f"Done: {deleted} record(s) deleted."))
