"""The JSON shape of an audit event, with its schema."""

from audit.models import Channel


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


AUDIT_EVENT_SCHEMA = {
    "type": "object",
    "required": [
        "id",
        "occurred_at",
        "action",
        "resource_type",
        "resource_id",
        "actor",
        "channel",
        "changes",
        "hash",
        "previous_hash",
    ],
    "properties": {
        "id": {"type": "integer"},
        "occurred_at": {"type": "string", "format": "date-time"},
        "action": {
            "type": "string",
            "description": "create, update, delete, soft_delete, restore, login, "
            "login_failed, lockout, or a domain action (a posting, a loan decision).",
        },
        "resource_type": {"type": "string", "description": "e.g. customers.customer"},
        "resource_id": {"type": "string", "description": "The object's reference, else its id."},
        "actor": {
            "type": "string",
            "description": "user:<name>, partner_key:<prefix>, system:<command>",
        },
        "channel": {"type": "string", "enum": list(Channel.values)},
        "request_id": {"type": "string"},
        "ip_address": {"type": ["string", "null"]},
        "changes": {
            "type": "object",
            "description": "{field: [old, new]}; secret fields masked.",
            "additionalProperties": {"type": "array", "minItems": 2, "maxItems": 2, "items": {}},
        },
        "hash": {"type": ["string", "null"], "description": "Null until sealed."},
        "previous_hash": {"type": ["string", "null"], "description": "Null until sealed."},
    },
}
