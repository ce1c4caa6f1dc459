"""Recompute every tenant's audit chain; exit non-zero naming the first event that fails."""

from django.core.management.base import CommandError

from audit.models import AuditChainHead
from audit.sealing import chains_waiting
from audit.verification import chain_length, verify_chain
from core.management.base import SystemCommand
from core.management.progress import Progress
from core.models import Tenant


class Command(SystemCommand):
    help = (
        "Verify the audit hash chain of every tenant (or one): exits non-zero naming the first "
        "event whose content or link does not verify."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tenant", help="slug of the one tenant to verify")

    def handle(self, *args, tenant=None, **options):
        failures = []
        for tenant_id, label in self._chains(tenant):
            progress = Progress(label, chain_length(tenant_id), self.stderr._out, unit="events")
            report = verify_chain(tenant_id, progress=progress)
            progress.close()
            line = (
                f"{label}: {report.verified} events verified, {report.waiting} waiting to be sealed"
            )
            if report.broken:
                failures.append(f"{label}: {report.broken}")
                self.stdout.write(f"{line}; BROKEN: {report.broken}")
            else:
                self.stdout.write(f"{line}; intact.")
        if failures:
            raise CommandError("Audit chain verification failed. " + " ".join(failures))

    def _chains(self, slug):
        if slug is not None:
            tenant = Tenant.objects.filter(slug=slug).first()
            if tenant is None:
                raise CommandError(f"No tenant with slug {slug!r}.")
            return [(tenant.pk, tenant.slug)]
        ids = set(AuditChainHead._base_manager.values_list("tenant_id", flat=True))
        ids |= set(chains_waiting())  # chains with no sealed event yet
        slugs = dict(Tenant.objects.filter(pk__in=ids - {None}).values_list("pk", "slug"))
        return [
            (tenant_id, slugs.get(tenant_id, "platform"))
            for tenant_id in sorted(ids, key=lambda t: (t is not None, t or 0))
        ]
