from django.db import models

from core.models.base import TenantScopedModel, tenant_key


class IdempotencyRecord(TenantScopedModel):
    """The first response to a POST sent with an `Idempotency-Key`, replayed on retries.

    Plumbing, not business data: no history (the business rows it created have their own).
    """

    # Every money-moving POST writes a row: its only indexes are the unique (tenant, partner
    # key, key) that finds it and `created_at` for the purge. Lone tenant and partner-key
    # indexes would only cost each insert (partner keys are revoked, never deleted).
    tenant = tenant_key(db_index=False)
    key = models.CharField(max_length=255)
    # Keys are the partner's own namespace: two integrations of one bank may pick the same key
    # without ever replaying each other's responses.
    partner_key = models.ForeignKey(
        "core.PartnerKey", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=500)
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)
    response_body = models.TextField(blank=True)
    response_content_type = models.CharField(max_length=100, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "partner_key", "key"], name="idempotency_key_per_partner_key"
            )
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created")]

    def __str__(self):
        return f"{self.method} {self.path} [{self.key}]"
