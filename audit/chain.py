"""The hash of an event: SHA-256 over the previous event's hash and a canonical serialization
of the event's content, so that changing, removing or reordering any sealed event breaks the
chain from that event on."""

import hashlib
import json
from datetime import UTC

# Every column that says what happened (all but the chain's own columns and `xid`).
CONTENT_FIELDS = (
    "id",
    "seq",
    "tenant_id",
    "occurred_at",
    "action",
    "resource_type",
    "resource_id",
    "actor",
    "channel",
    "request_id",
    "ip_address",
    "user_agent",
    "changes",
    "related",
)


def canonical(values):
    """Sorted-key, ASCII-only, compact JSON of the content fields of `values` (a dict of
    column values as read from the database)."""
    content = {name: values[name] for name in CONTENT_FIELDS}
    content["occurred_at"] = values["occurred_at"].astimezone(UTC).isoformat()
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def event_hash(previous_hash, values):
    digest = hashlib.sha256()
    digest.update((previous_hash or "").encode())
    digest.update(b"\n")
    digest.update(canonical(values).encode())
    return digest.hexdigest()
