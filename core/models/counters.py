from django.db import models

from core.models.base import TenantScopedModel


class ReferenceCounter(TenantScopedModel):
    """The last number handed out per tenant and prefix (CUS-000042), for collision-free refs.

    Plumbing, not business data: no history.
    """

    prefix = models.CharField(max_length=10)
    last_value = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "prefix"], name="reference_counter_unique")
        ]

    def __str__(self):
        return f"{self.prefix}{self.last_value}"
