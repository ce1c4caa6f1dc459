"""API schemas of core's own endpoints and of the error body every endpoint shares.

Found by `core.api.schema.components()` like every app's `schemas` module.
"""

from core.api.schema import component

PROBLEM = component(
    "Problem",
    {
        "type": "object",
        "description": "RFC 9457 problem details: the body of every error.",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string", "format": "uri"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "instance": {"type": "string", "description": "The path that was requested."},
            "request_id": {"type": "string"},
            "errors": {
                "type": "object",
                "description": "Messages per field at fault (`address.country` for nested).",
                "additionalProperties": {"type": "array", "items": {"type": "string"}},
            },
        },
    },
)

ME = component(
    "Me",
    {
        "type": "object",
        "description": "The calling API key.",
        "required": ["tenant", "name", "scopes"],
        "properties": {
            "tenant": {"type": "string", "description": "The key's tenant (its slug)."},
            "name": {"type": "string"},
            "scopes": {"type": "array", "items": {"type": "string"}},
        },
    },
)

OPENAPI_DOCUMENT = component(
    "OpenApiDocument",
    {
        "type": "object",
        "description": "An OpenAPI 3.1 document (https://spec.openapis.org/oas/v3.1.0).",
        "required": ["openapi", "info", "paths"],
        "properties": {
            "openapi": {"type": "string"},
            "info": {"type": "object", "additionalProperties": {}},
            "paths": {"type": "object", "additionalProperties": {}},
        },
        "additionalProperties": {},
    },
)
