"""The sealer: links appended events into each tenant's hash chain, after they commit.

Writers never take a chain lock: they insert events with no hash inside their own transaction.
The sealer, alone per chain (a transaction-scoped advisory lock on PostgreSQL that no writer
ever takes), appends the waiting events in a fixed order: it gives each the next `seq`, the
previous event's hash and its own hash, and moves the chain head.

Never skipping an in-flight event (PostgreSQL): an event can be sealed only once no transaction
that might still add an event before it is running. The sealer therefore seals only events
whose writing transaction id (`xid`) is below the oldest transaction still running when it
reads (`pg_snapshot_xmin(pg_current_snapshot())`), in (xid, id) order. Every transaction below
that horizon has ended, so every event it committed is visible to this read, and every event
sealed later has an xid at or above it: the chain is exactly the (xid, id) order, and an event
sealed later is never due before one already sealed. SQLite has one writer at a time and
assigns ids in commit order, so it seals in id order, after taking the write lock.
"""

from django.db import connection, transaction
from django.db.models import BigIntegerField, Func

from audit.chain import CONTENT_FIELDS, event_hash
from audit.models import AuditChainHead, AuditEvent
from core.context import system_scope

LOCK_NAMESPACE = 7_301_001  # first key of the chain's advisory lock; the second is the tenant
BATCH_SIZE = 2000


class TransactionHorizon(Func):
    """The oldest transaction id still running (PostgreSQL): every one below it has ended."""

    template = "pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
    output_field = BigIntegerField()


def _lock_chain(tenant_id, *, wait):
    """Become this chain's only sealer until commit; False if another holds it (`wait` off)."""
    if connection.vendor != "postgresql":
        return True
    function = "pg_advisory_xact_lock" if wait else "pg_try_advisory_xact_lock"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {function}(%s, %s)", [LOCK_NAMESPACE, tenant_id or 0])
        row = cursor.fetchone()
    return wait or row[0]


def chain_head(tenant_id):
    """The chain's head row, created on first use (call under the chain lock)."""
    head = AuditChainHead._base_manager.filter(tenant_id=tenant_id).first()
    if head is None:
        head = AuditChainHead._base_manager.create(tenant_id=tenant_id)
    elif connection.vendor != "postgresql":
        # SQLite: writing first takes the database's write lock, so no writer commits an
        # event between our read of the waiting events and our update.
        AuditChainHead._base_manager.filter(pk=head.pk).update(last_seq=head.last_seq)
    return head


def _waiting(tenant_id, limit):
    events = AuditEvent._base_manager.filter(tenant_id=tenant_id, hash__isnull=True)
    if connection.vendor == "postgresql":
        events = events.filter(xid__lt=TransactionHorizon()).order_by("xid", "id")
    else:
        events = events.order_by("id")
    return list(events.values(*[f for f in CONTENT_FIELDS if f != "seq"])[:limit])


def _write_seals(events):
    """Store the links of a batch: on PostgreSQL one UPDATE joined to arrays (a CASE per
    column, as bulk_update writes, grows with the square of the batch)."""
    if connection.vendor != "postgresql":
        AuditEvent._base_manager.bulk_update(events, ["seq", "previous_hash", "hash"], 500)
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE audit_auditevent AS e SET seq = v.seq, previous_hash = v.previous_hash,"
            " hash = v.hash FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::text[])"
            " AS v(id, seq, previous_hash, hash) WHERE e.id = v.id",
            [
                [e.id for e in events],
                [e.seq for e in events],
                [e.previous_hash for e in events],
                [e.hash for e in events],
            ],
        )


def seal_chain(tenant_id, *, wait=True, batch_size=BATCH_SIZE):
    """Seal what is waiting in one tenant's chain (None: the platform chain); returns the
    number sealed. With `wait` off it gives way at once to a sealer already at work."""
    sealed = 0
    with system_scope():
        while True:
            with transaction.atomic():
                if not _lock_chain(tenant_id, wait=wait):
                    return sealed
                head = chain_head(tenant_id)
                rows = _waiting(tenant_id, batch_size)
                if not rows:
                    return sealed
                updates = []
                seq, previous = head.last_seq, head.last_hash or None
                for values in rows:
                    seq += 1
                    values["seq"] = seq
                    digest = event_hash(previous, values)
                    updates.append(
                        AuditEvent(id=values["id"], seq=seq, previous_hash=previous, hash=digest)
                    )
                    previous = digest
                _write_seals(updates)
                AuditChainHead._base_manager.filter(pk=head.pk).update(
                    last_seq=seq, last_hash=previous
                )
            sealed += len(rows)
            if len(rows) < batch_size:
                return sealed


def chains_waiting():
    """Tenant ids (None: the platform) with events not sealed yet."""
    return list(
        AuditEvent._base_manager.filter(hash__isnull=True)
        .order_by()
        .values_list("tenant_id", flat=True)
        .distinct()
    )


def seal_all(*, wait=True):
    """Seal every chain with waiting events; {tenant_id: number sealed}."""
    return {tenant_id: seal_chain(tenant_id, wait=wait) for tenant_id in chains_waiting()}
