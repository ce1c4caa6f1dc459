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

import json

from django.db import connection, transaction
from django.db.models import F

from audit.chain import CONTENT_FIELDS, event_hash
from audit.models import AuditChainHead, AuditEvent
from core.context import system_scope

LOCK_NAMESPACE = 7_301_001  # first key of the chain's advisory lock; the second is the tenant
BATCH_SIZE = 2000


def _lock_chain(tenant_id, *, wait, durable=True):
    """Become this chain's only sealer until commit; False if another holds it (`wait` off).
    `durable` off: the transaction's commit does not wait for the WAL flush (see seal_chain)."""
    if connection.vendor != "postgresql":
        # SQLite: an UPDATE (matching a row or not) takes the database's write lock, so no
        # writer commits an event between our read of the waiting events and our update.
        AuditChainHead._base_manager.filter(tenant_id=tenant_id).update(last_seq=F("last_seq"))
        return True
    function = "pg_advisory_xact_lock" if wait else "pg_try_advisory_xact_lock"
    asynchronous = "" if durable else "set_config('synchronous_commit', 'off', true), "
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {asynchronous}{function}(%s, %s)", [LOCK_NAMESPACE, tenant_id or 0])
        row = cursor.fetchone()
    return wait or row[-1]


def chain_head(tenant_id):
    """The chain's head row, created on first use (call under the chain lock)."""
    head = AuditChainHead._base_manager.filter(tenant_id=tenant_id).first()
    if head is None:
        head = AuditChainHead._base_manager.create(tenant_id=tenant_id)
    return head


# PostgreSQL: the next events to seal and the chain head in one read, as constant SQL (the
# ORM spends longer building this query than the database answering it). Only events whose
# transaction ended before the oldest running one began, in chain order (see the module doc).
WAITING = """
SELECT {columns}, h.id, h.last_seq, h.last_hash
FROM audit_auditevent AS e LEFT JOIN audit_auditchainhead AS h ON h.tenant_id {tenant}
WHERE e.tenant_id {tenant} AND e.hash IS NULL
    AND e.xid < pg_snapshot_xmin(pg_current_snapshot())::text::bigint
ORDER BY e.xid, e.id
LIMIT %s
"""
WAITING_FIELDS = [f for f in CONTENT_FIELDS if f != "seq"]
JSON_FIELDS = ("changes", "related")


def _waiting(tenant_id, limit):
    """The next events to seal, in chain order, as the content values `event_hash` takes, each
    with the chain head's id, position and hash (`head_*`; None before the chain's first
    seal)."""
    if connection.vendor != "postgresql":
        head = AuditChainHead._base_manager.filter(tenant_id=tenant_id).first()
        events = AuditEvent._base_manager.filter(tenant_id=tenant_id, hash__isnull=True)
        rows = list(events.order_by("id").values(*WAITING_FIELDS)[:limit])
        for row in rows:
            row.update(
                head_id=head and head.pk,
                head_seq=head and head.last_seq,
                head_hash=head and head.last_hash,
            )
        return rows
    sql = WAITING.format(
        columns=", ".join(f"e.{name}" for name in WAITING_FIELDS),
        tenant="IS NULL" if tenant_id is None else "= %s",
    )
    params = [limit] if tenant_id is None else [tenant_id, tenant_id, limit]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = [
            dict(zip([*WAITING_FIELDS, "head_id", "head_seq", "head_hash"], row, strict=True))
            for row in cursor.fetchall()
        ]
    for row in rows:  # as the ORM reads them (the backend loads jsonb as text)
        for name in JSON_FIELDS:
            row[name] = json.loads(row[name])
    return rows


# On PostgreSQL the links of a batch and the new head in one statement: an UPDATE joined to
# arrays (a CASE per column, as bulk_update writes, grows with the square of the batch).
WRITE_SEALS = """
WITH sealed AS (
    UPDATE audit_auditevent AS e SET seq = v.seq, previous_hash = v.previous_hash, hash = v.hash
    FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::text[])
        AS v(id, seq, previous_hash, hash)
    WHERE e.id = v.id
)
UPDATE audit_auditchainhead SET last_seq = %s, last_hash = %s WHERE id = %s
"""


def _write_seals(head_id, events):
    """Store the links of a batch and move the chain head to its last event."""
    last = events[-1]
    if connection.vendor != "postgresql":
        AuditEvent._base_manager.bulk_update(events, ["seq", "previous_hash", "hash"], 500)
        AuditChainHead._base_manager.filter(pk=head_id).update(
            last_seq=last.seq, last_hash=last.hash
        )
        return
    with connection.cursor() as cursor:
        cursor.execute(
            WRITE_SEALS,
            [
                [e.id for e in events],
                [e.seq for e in events],
                [e.previous_hash for e in events],
                [e.hash for e in events],
                last.seq,
                last.hash,
                head_id,
            ],
        )


def seal_chain(tenant_id, *, wait=True, batch_size=BATCH_SIZE):
    """Seal what is waiting in one tenant's chain (None: the platform chain); returns the
    number sealed. With `wait` off it gives way at once to a sealer already at work."""
    sealed = 0
    with system_scope():
        while True:
            with transaction.atomic():
                # A seal is derived data: if a crash loses its commit, the events simply wait
                # again and the next sealer links them identically. So its commit need not
                # wait for the WAL flush (otherwise a second flush per audited write); a later
                # durable commit flushes it first, so no durable seal builds on a lost one.
                if not _lock_chain(tenant_id, wait=wait, durable=False):
                    return sealed
                rows = _waiting(tenant_id, batch_size)
                if not rows:
                    return sealed
                first = rows[0]
                head_id, seq, previous = first["head_id"], first["head_seq"], first["head_hash"]
                if head_id is None:  # the chain's first seal
                    head = chain_head(tenant_id)
                    head_id, seq, previous = head.pk, head.last_seq, head.last_hash
                previous = previous or None
                updates = []
                for values in rows:
                    seq += 1
                    values["seq"] = seq
                    digest = event_hash(previous, values)
                    updates.append(
                        AuditEvent(id=values["id"], seq=seq, previous_hash=previous, hash=digest)
                    )
                    previous = digest
                _write_seals(head_id, updates)
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
