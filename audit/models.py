"""The unified audit log: one append-only table of events across every domain, per tenant.

Events are written inside the business transaction with no hash (cheap, no lock); the sealer
(`audit/sealing.py`) links them into each tenant's hash chain after commit, setting `seq`,
`previous_hash` and `hash`. Nothing else ever changes or removes an event except the retention
command; on PostgreSQL a trigger enforces that (migration 0002).
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.models.base import tenant_key
from core.scoping import TenantManager


class AppendOnlyError(RuntimeError):
    """Audit events are never changed or deleted (only sealed, or purged by retention)."""


# The only columns that change after insert: set once, by the sealer.
SEAL_FIELDS = frozenset({"seq", "previous_hash", "hash"})


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        if not set(kwargs) <= SEAL_FIELDS:
            raise AppendOnlyError("Audit events are append-only; only the sealer links them.")
        return super().update(**kwargs)

    update.alters_data = True

    def delete(self):
        raise AppendOnlyError("Audit events are deleted only by `manage.py purge_audit`.")

    delete.alters_data = True
    delete.queryset_only = True


class AuditEventManager(TenantManager.from_queryset(AuditEventQuerySet)):
    """The current tenant's events (platform events, with no tenant, in system scope only)."""


class Channel(models.TextChoices):
    ADMIN = "admin"
    API = "api"
    COMMAND = "command"


class AuditEvent(models.Model):
    # Null for platform events (a superuser's login, a failed login of an unknown user): they
    # form their own chain. No index of its own: every index below leads with it already.
    tenant = tenant_key(db_index=False, null=True)
    occurred_at = models.DateTimeField(default=timezone.now)
    action = models.CharField(max_length=32)
    resource_type = models.CharField(max_length=100)  # "customers.customer", "auth.user"
    resource_id = models.CharField(max_length=100)  # core.history.resource_id_of
    actor = models.CharField(max_length=150)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    request_id = models.CharField(max_length=128, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    changes = models.JSONField(default=dict, blank=True)  # {field: [old, new]}, secrets masked
    related = models.JSONField(default=list, blank=True)  # ["customers.customer:CUS-000001"]
    # PostgreSQL: the writing transaction's id; the sealer links only events of transactions
    # that ended before the oldest running one began (None on SQLite: one writer at a time).
    xid = models.BigIntegerField(null=True, blank=True, editable=False)
    seq = models.BigIntegerField(null=True, blank=True, editable=False)  # position in chain
    previous_hash = models.CharField(max_length=64, null=True, blank=True, editable=False)
    hash = models.CharField(max_length=64, null=True, blank=True, editable=False)

    objects = AuditEventManager()

    class Meta:
        # Newest first by time. The primary key cannot deliver this order, so no plan walks
        # the whole table's ids (other tenants' too) looking for this tenant's rows: every
        # listing walks an index that leads with the tenant and ends in the order, and a
        # filter with a time range (`from`/`to`) is one range of that index.
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "seq"], condition=Q(seq__isnull=False), name="audit_chain_seq"
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "occurred_at", "id"], name="audit_occurred"),
            models.Index(
                fields=["tenant", "resource_type", "resource_id", "occurred_at", "id"],
                name="audit_resource_time",
            ),
            models.Index(fields=["tenant", "actor", "occurred_at", "id"], name="audit_actor_time"),
            models.Index(
                fields=["tenant", "action", "occurred_at", "id"], name="audit_action_time"
            ),
            models.Index(
                fields=["tenant", "channel", "occurred_at", "id"], name="audit_channel_time"
            ),
            # What the sealer reads: the (few) events not linked yet, in chain order.
            models.Index(
                fields=["tenant", "xid", "id"],
                condition=Q(hash__isnull=True),
                name="audit_unsealed",
            ),
        ]

    def __str__(self):
        return f"#{self.pk} {self.action} {self.resource_type}:{self.resource_id} by {self.actor}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Audit events are deleted only by `manage.py purge_audit`.")

    @property
    def is_sealed(self):
        return self.hash is not None


class AuditEventLink(models.Model):
    """Index of `AuditEvent.related`: finds every event that belongs to an object's history
    (a relationship's changes in its customers' histories). Written with the event."""

    tenant = tenant_key(db_index=False, null=True)  # indexed by `audit_link`, led by it
    event = models.ForeignKey(AuditEvent, on_delete=models.DO_NOTHING, related_name="links")
    resource_type = models.CharField(max_length=100)
    resource_id = models.CharField(max_length=100)

    objects = TenantManager()

    class Meta:
        indexes = [
            models.Index(
                fields=["tenant", "resource_type", "resource_id", "event"], name="audit_link"
            ),
        ]

    def __str__(self):
        return f"{self.resource_type}:{self.resource_id} -> #{self.event_id}"


class AuditChainHead(models.Model):
    """Per tenant: where the sealed chain ends, and where retention cut it (the checkpoint from
    which the remaining chain verifies). Written only by the sealer and the retention command,
    under the tenant's chain lock."""

    tenant = models.OneToOneField(
        "core.Tenant", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    last_seq = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, blank=True)
    purged_through_seq = models.BigIntegerField(default=0)
    purged_hash = models.CharField(max_length=64, blank=True)
    purged_at = models.DateTimeField(null=True, blank=True)

    objects = TenantManager()

    def __str__(self):
        return f"chain of {self.tenant or 'the platform'} through #{self.last_seq}"
