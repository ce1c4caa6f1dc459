"""Retention: old events and history rows go; the chain that remains still verifies.

Each chain is cut at a position: every sealed event up to it is older than the cutoff. The cut
is recorded in the chain head (the position and the hash of the last purged event, the
checkpoint), from which `verify_audit_chain` starts. Events not sealed yet are never purged.
"""

from django.db import connection, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from simple_history.models import registered_models

from audit.models import AuditEvent, AuditEventLink
from audit.sealing import _lock_chain, chain_head
from core.context import system_scope

PURGE_SETTING = "ledgerline.audit_purge"  # what the PostgreSQL trigger lets DELETE through on


def _allow_purge_in_this_transaction():
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config(%s, 'on', true)", [PURGE_SETTING])


def purge_chain(tenant_id, cutoff):
    """Delete the sealed events of one chain up to the last position before `cutoff`; returns
    how many went."""
    with system_scope(), transaction.atomic():
        _lock_chain(tenant_id, wait=True)
        head = chain_head(tenant_id)
        sealed = AuditEvent._base_manager.filter(
            tenant_id=tenant_id, seq__gt=head.purged_through_seq
        )
        first_kept = (
            sealed.filter(occurred_at__gte=cutoff).order_by("seq").values_list("seq", flat=True)
        ).first()
        through = first_kept - 1 if first_kept is not None else head.last_seq
        if through <= head.purged_through_seq:
            return 0
        checkpoint = sealed.filter(seq=through).values_list("hash", flat=True).get()
        doomed = sealed.filter(seq__lte=through)
        _allow_purge_in_this_transaction()
        AuditEventLink._base_manager.filter(event__in=doomed.values("id"))._raw_delete(
            connection.alias
        )
        count = doomed._raw_delete(connection.alias)
        type(head)._base_manager.filter(pk=head.pk).update(
            purged_through_seq=through, purged_hash=checkpoint, purged_at=timezone.now()
        )
        return count


def purge_history(cutoff):
    """Delete history rows older than `cutoff`, keeping each object's newest row before it: the
    object's state at the cutoff, the baseline of its next diff and of `as_of` views.

    (simple-history's `clean_old_history` deletes those too, so it does not fit.)"""
    deleted = {}
    with system_scope(), transaction.atomic():
        for model in sorted(registered_models.values(), key=lambda m: m._meta.label):
            history = model.history.model._base_manager
            pk_name = model._meta.pk.attname
            old = history.filter(history_date__lt=cutoff)
            newest_old = (
                old.filter(**{pk_name: OuterRef(pk_name)})
                .order_by("-history_date", "-history_id")
                .values("history_id")[:1]
            )
            doomed = old.exclude(history_id=Subquery(newest_old))
            deleted[model._meta.label_lower] = doomed._raw_delete(connection.alias)
    return deleted
