"""Writing audit events: explicitly (`record_event`) and for every history row.

Events are plain inserts in the caller's transaction: no lock, no hash. Linking them into the
tenant's chain is the sealer's job, after commit (`audit/sealing.py`).
"""

import json
from contextlib import nullcontext

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import BigIntegerField, Func
from django.utils import timezone

from audit.models import AuditEvent, AuditEventLink
from core.context import current_scope, get_request_info, system_scope


class TransactionId(Func):
    """The writing transaction's id (PostgreSQL; NULL elsewhere), evaluated by the INSERT."""

    template = "NULL"
    output_field = BigIntegerField()

    def as_postgresql(self, compiler, connection, **extra_context):
        return "pg_current_xact_id()::text::bigint", []


def _json(value):
    """`value` as the JSON the database will give back (dates and decimals as strings)."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def _current_tenant_id():
    scope = current_scope()
    return scope.tenant.pk if scope is not None and scope.tenant is not None else None


def record_event(
    *,
    action,
    resource_type,
    resource_id,
    changes=None,
    related=(),
    tenant=None,
    tenant_id=None,
    actor=None,
    occurred_at=None,
):
    """Append one event in the current transaction. `tenant`: default the current one (none in
    system scope: a platform event). `related`: ["app.model:id", ...] of the objects whose
    history this event belongs to as well. Who, from where and through which channel come from
    the request or command context."""
    info = get_request_info()
    if tenant is not None:
        tenant_id = tenant.pk
    elif tenant_id is None:
        tenant_id = _current_tenant_id()
    related = sorted(set(related))
    event = AuditEvent(
        tenant_id=tenant_id,
        occurred_at=occurred_at or timezone.now(),
        action=action,
        resource_type=resource_type,
        resource_id=str(resource_id)[:100],
        actor=(actor or info.actor or "system")[:150],
        channel=info.channel,
        request_id=info.request_id,
        ip_address=info.ip_address,
        user_agent=info.user_agent[:512],
        changes=_json(changes or {}),
        related=related,
        xid=TransactionId(),
    )
    # The event belongs to the tenant of what changed. That is the current tenant, except for
    # platform rows (a tenant created, a failed login of an unknown user, a membership edited
    # by a superuser): those are written in system scope, which row-level security requires
    # for rows of no tenant or of a tenant other than the current one.
    platform = tenant_id is None or tenant_id != _current_tenant_id()
    with system_scope() if platform else nullcontext():
        event.save()
        # The link index finds the event in the history of the object itself and of each
        # related one.
        AuditEventLink.objects.bulk_create(
            AuditEventLink(
                tenant_id=tenant_id,
                event_id=event.pk,
                resource_type=kind,
                resource_id=ident,
            )
            for kind, _, ident in (
                ref.partition(":") for ref in [f"{resource_type}:{event.resource_id}", *related]
            )
        )
    if settings.AUDIT_SEAL_ON_COMMIT:
        _seal_after_commit(tenant_id)
    return event


def _seal_after_commit(tenant_id):
    """Once per transaction and chain: seal when the transaction has committed."""
    from audit.sealing import seal_chain

    connection = transaction.get_connection()
    for _savepoints, callback, _robust in connection.run_on_commit:
        if getattr(callback, "audit_chain", False) == tenant_id:
            return

    def seal():
        seal_chain(tenant_id, wait=False)

    seal.audit_chain = tenant_id
    transaction.on_commit(seal, robust=True)


def resource_id_of(obj):
    """How events name an object: its per-tenant `reference` if it has one, else its pk."""
    return getattr(obj, "reference", None) or obj.pk


def resource_of(obj):
    return f"{obj._meta.label_lower}:{resource_id_of(obj)}"
