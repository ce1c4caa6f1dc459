"""The JSON shape of an audit event (its schema: audit/schemas.py)."""


def event_json(event):
    return {
        "id": event.pk,
        "occurred_at": event.occurred_at,
        "action": event.action,
        "resource_type": event.resource_type,
        "resource_id": event.resource_id,
        "actor": event.actor,
        "channel": event.channel,
        "request_id": event.request_id,
        "ip_address": event.ip_address,
        "changes": event.changes,
        "hash": event.hash,
        "previous_hash": event.previous_hash,
    }
