"""Signals core and the domain apps send for the audit trail, which `audit` receives.

Core imports no app: it announces what happened, and the `audit` app (connected in its
`AppConfig.ready()`) writes the event, synchronously, in the caller's transaction, so that a
rolled-back change leaves no event. Model changes need nothing: every history row becomes an
event by itself. Send this for what is not a model change (a money movement, a loan decision).
"""

from django.dispatch import Signal

# Arguments: action, resource_type, resource_id, and optionally changes ({field: [old, new]}),
# related (["app.model:id", ...] of objects whose history this belongs to as well), tenant
# (default: the current one), actor (default: the current one).
audit_event = Signal()


def emit_audit_event(
    *, action, resource_type, resource_id, changes=None, related=(), tenant=None, actor=None
):
    """Record an explicit audit event (no-op if the audit app is not installed)."""
    audit_event.send(
        sender=None,
        action=action,
        resource_type=resource_type,
        resource_id=str(resource_id),
        changes=changes or {},
        related=list(related),
        tenant=tenant,
        actor=actor,
    )
