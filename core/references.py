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


def take_numbers(*, tenant_id, counter, count=1, highest_in_use=lambda: 0):
    """Take the tenant's next `count` numbers of `counter` (a name of up to 10 characters).

    The increment is one UPDATE, which locks the counter row until the caller's transaction
    ends, so two concurrent takers can never draw the same number. A new counter starts after
    `highest_in_use()`, the largest number rows already hold (e.g. loaded from a fixture).
    """
    with transaction.atomic():
        counters = ReferenceCounter._base_manager.filter(tenant_id=tenant_id, prefix=counter)
        if not counters.update(last_value=F("last_value") + count):
            try:
                with transaction.atomic():
                    ReferenceCounter._base_manager.create(
                        tenant_id=tenant_id, prefix=counter, last_value=highest_in_use()
                    )
            except IntegrityError:
                pass  # created concurrently by another transaction: increment that one
            counters.update(last_value=F("last_value") + count)
        last = counters.values_list("last_value", flat=True).get()
    return range(last - count + 1, last + 1)


def next_reference(*, tenant, prefix, model=None):
    """Take the tenant's next reference for `prefix` (CUS-000042)."""
    (value,) = take_numbers(
        tenant_id=tenant.pk,
        counter=prefix,
        highest_in_use=lambda: _highest_in_use(model, tenant, prefix),
    )
    return f"{prefix}{value:0{DIGITS}d}"
