"""API schemas of the audit log: one event, as `audit/serializers.py` returns it. Found by
`core.api.schema.components()` like every app's `schemas` module."""

from audit.models import Channel
from core.api.schema import component

AUDIT_EVENT = component(
    "AuditEvent",
    {
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
            "resource_id": {
                "type": "string",
                "description": "The object's reference, else the id this API gives it (a "
                "hold's or collateral's UUID, a relationship's number); a partner key's prefix.",
            },
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
                "additionalProperties": {
                    "type": "array",
                    "minItems": 2,
                    "maxItems": 2,
                    "items": {},
                },
            },
            "hash": {"type": ["string", "null"], "description": "Null until sealed."},
            "previous_hash": {"type": ["string", "null"], "description": "Null until sealed."},
        },
    },
)
