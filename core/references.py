"""Per-tenant human references (CUS-000001), unique under concurrent creation."""

from django.db import IntegrityError, transaction
from django.db.models import F

from core.models import ReferenceCounter

DIGITS = 6


def _highest_in_use(model, tenant, prefix):
    """The largest number already used by `model` rows (e.g. loaded from a fixture)."""
    if model is None:
        return 0
    last = (
        model._base_manager.filter(tenant=tenant, reference__startswith=prefix)
        .order_by("-reference")
        .values_list("reference", flat=True)
        .first()
    )
    suffix = last[len(prefix) :] if last else ""
    return int(suffix) if suffix.isdigit() else 0


def next_reference(*, tenant, prefix, model=None):
    """Take the tenant's next number for `prefix`.

    The increment is one UPDATE, which locks the counter row until the caller's transaction
    ends, so two concurrent creators can never draw the same number. A new counter starts
    after the highest reference `model` already holds.
    """
    with transaction.atomic():
        counters = ReferenceCounter._base_manager.filter(tenant=tenant, prefix=prefix)
        if not counters.update(last_value=F("last_value") + 1):
            try:
                with transaction.atomic():
                    ReferenceCounter._base_manager.create(
                        tenant=tenant,
                        prefix=prefix,
                        last_value=_highest_in_use(model, tenant, prefix),
                    )
            except IntegrityError:
                pass  # created concurrently by another transaction: increment that one
            counters.update(last_value=F("last_value") + 1)
        value = counters.values_list("last_value", flat=True).get()
    return f"{prefix}{value:0{DIGITS}d}"
