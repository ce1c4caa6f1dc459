"""Reads of the audit log. Every filter is served by an index leading with the tenant."""

from audit.models import AuditEvent, AuditEventLink
from core.history import resource_id_of

# Newest first; the id breaks ties, so keyset pagination is stable. Every filter has an index
# (tenant, filter, occurred_at, id) that delivers this order (audit/models.py).
ORDERING = ("-occurred_at", "-id")
# The platform's view across all tenants: only the primary key spans them.
PLATFORM_ORDERING = ("-id",)


def ordering_for(scope):
    return PLATFORM_ORDERING if scope is not None and scope.system else ORDERING


def audit_events(
    *,
    resource_type=None,
    resource_id=None,
    action=None,
    actor=None,
    channel=None,
    occurred_from=None,
    occurred_to=None,
):
    """The current tenant's events matching every filter given (`occurred_to` exclusive)."""
    events = AuditEvent.objects.all()
    exact = {
        "resource_type": resource_type,
        "resource_id": resource_id,
        "action": action,
        "actor": actor,
        "channel": channel,
    }
    events = events.filter(**{name: value for name, value in exact.items() if value})
    if occurred_from is not None:
        events = events.filter(occurred_at__gte=occurred_from)
    if occurred_to is not None:
        events = events.filter(occurred_at__lt=occurred_to)
    return events


def history_of(obj):
    """Everything that happened to `obj`: its own events and those of objects that declare it
    related (a customer's relationships), through the link index."""
    links = AuditEventLink.objects.filter(
        resource_type=obj._meta.label_lower, resource_id=str(resource_id_of(obj))
    )
    return AuditEvent.objects.filter(id__in=links.values("event_id"))
