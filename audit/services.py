"""Writing audit events: explicitly (`record_event`) and for every history row.

Events are plain inserts in the caller's transaction: no lock, no hash. Linking them into the
tenant's chain is the sealer's job, after commit (`audit/sealing.py`).
"""

import json
from contextlib import nullcontext

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from audit.models import AuditEvent, AuditEventLink
from core.context import current_scope, get_request_info, system_scope

# PostgreSQL: the event and its link rows in one round trip (a link per resource, so at least
# one), with the writing transaction's id, which the sealer orders by (`audit/sealing.py`).
INSERT_EVENT = """
WITH event AS (
    INSERT INTO audit_auditevent (tenant_id, occurred_at, action, resource_type, resource_id,
        actor, channel, request_id, ip_address, user_agent, changes, related, xid)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s::inet, %s, %s::jsonb, %s::jsonb,
        pg_current_xact_id()::text::bigint)
    RETURNING id
)
INSERT INTO audit_auditeventlink (tenant_id, event_id, resource_type, resource_id)
SELECT %s, event.id, link.resource_type, link.resource_id
FROM event, unnest(%s::text[], %s::text[]) AS link(resource_type, resource_id)
RETURNING event_id
"""


def _insert_in_one_statement(event, links):
    with connection.cursor() as cursor:
        cursor.execute(
            INSERT_EVENT,
            [
                event.tenant_id,
                event.occurred_at,
                event.action,
                event.resource_type,
                event.resource_id,
                event.actor,
                event.channel,
                event.request_id,
                event.ip_address,
                event.user_agent,
                json.dumps(event.changes),
                json.dumps(event.related),
                event.tenant_id,
                [kind for kind, _ in links],
                [ident for _, ident in links],
            ],
        )
        event.pk = cursor.fetchone()[0]
    event._state.adding = False


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
    )
    # The link index finds the event in the history of the object itself and of each related
    # one.
    links = [
        (kind, ident)
        for kind, _, ident in (
            ref.partition(":") for ref in [f"{resource_type}:{event.resource_id}", *related]
        )
    ]
    # The event belongs to the tenant of what changed. That is the current tenant, except for
    # platform rows (a tenant created, a failed login of an unknown user, a membership edited
    # by a superuser): those are written in system scope, which row-level security requires
    # for rows of no tenant or of a tenant other than the current one.
    platform = tenant_id is None or tenant_id != _current_tenant_id()
    with system_scope() if platform else nullcontext():
        if connection.vendor == "postgresql":
            _insert_in_one_statement(event, links)
        else:
            event.save()
            AuditEventLink.objects.bulk_create(
                AuditEventLink(
                    tenant_id=tenant_id, event_id=event.pk, resource_type=kind, resource_id=ident
                )
                for kind, ident in links
            )
    if settings.AUDIT_SEAL_ON_COMMIT:
        _seal_after_commit(tenant_id)
    return event


def _seal_after_commit(tenant_id):
    """Once per transaction and chain: seal when the transaction has committed, in this thread
    (AUDIT_SEAL_DELAY 0) or, coalesced with other commits, in the background sealer."""
    from audit.sealer import sealer
    from audit.sealing import seal_chain

    connection = transaction.get_connection()
    for _savepoints, callback, _robust in connection.run_on_commit:
        if getattr(callback, "audit_chain", False) == tenant_id:
            return

    def seal():
        if settings.AUDIT_SEAL_DELAY:
            sealer.request(tenant_id)
        else:
            seal_chain(tenant_id, wait=False)

    seal.audit_chain = tenant_id
    transaction.on_commit(seal, robust=True)
