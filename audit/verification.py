"""Walking a sealed chain and recomputing every link: constant memory at any length."""

from dataclasses import dataclass

from audit.chain import CONTENT_FIELDS, event_hash
from audit.models import AuditChainHead, AuditEvent
from core.context import system_scope

CHUNK = 5000


@dataclass(frozen=True)
class ChainBreak:
    event_id: int | None
    seq: int | None
    reason: str

    def __str__(self):
        where = (
            f"event #{self.event_id} (chain position {self.seq})" if self.event_id else "the end"
        )
        return f"the chain breaks at {where}: {self.reason}"


@dataclass(frozen=True)
class ChainReport:
    tenant_id: int | None
    verified: int
    waiting: int
    broken: ChainBreak | None


def waiting_count(tenant_id):
    return AuditEvent._base_manager.filter(tenant_id=tenant_id, hash__isnull=True).count()


def chain_length(tenant_id):
    head = AuditChainHead._base_manager.filter(tenant_id=tenant_id).first()
    return head.last_seq - head.purged_through_seq if head else 0


def verify_chain(tenant_id, *, progress=None):
    """Check every sealed event of one chain in order, from the retention checkpoint on:
    positions without gaps, each link to the previous hash, each hash over the content; the
    last event against the chain head. Reads in keyset chunks of `CHUNK`, in system scope (a
    platform chain has no tenant, and row-level security shows it to system scope only)."""
    with system_scope():
        return _verify_chain(tenant_id, progress=progress)


def _verify_chain(tenant_id, *, progress):
    head = AuditChainHead._base_manager.filter(tenant_id=tenant_id).first()
    expected = (head.purged_through_seq if head else 0) + 1
    previous = (head.purged_hash or None) if head else None
    verified = 0

    def report(broken):
        return ChainReport(tenant_id, verified, waiting_count(tenant_id), broken)

    events = AuditEvent._base_manager.filter(tenant_id=tenant_id, seq__isnull=False)
    after = expected - 1
    while True:
        rows = list(
            events.filter(seq__gt=after)
            .order_by("seq")
            .values(*CONTENT_FIELDS, "previous_hash", "hash")[:CHUNK]
        )
        if not rows:
            break
        for values in rows:
            if values["seq"] != expected:
                missing = f"position {expected} is missing" + (
                    f" (to {values['seq'] - 1})" if values["seq"] > expected + 1 else ""
                )
                return report(ChainBreak(values["id"], values["seq"], f"{missing}."))
            if values["previous_hash"] != previous:
                return report(
                    ChainBreak(
                        values["id"],
                        values["seq"],
                        "its link (previous_hash) is not the hash of the event before it.",
                    )
                )
            digest = event_hash(previous, values)
            if digest != values["hash"]:
                return report(
                    ChainBreak(values["id"], values["seq"], "its content does not match its hash.")
                )
            previous = digest
            expected += 1
            verified += 1
        after = rows[-1]["seq"]
        if progress is not None:
            progress(verified)
    if head is not None and (head.last_seq != expected - 1 or (head.last_hash or None) != previous):
        return report(
            ChainBreak(
                None,
                expected - 1,
                f"the chain head records position {head.last_seq}, the events end at "
                f"{expected - 1}: events at the end were removed or changed.",
            )
        )
    return report(None)
