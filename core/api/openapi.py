"""The OpenAPI 3.1 document, built from the `@operation` declarations of the API views."""

import re

from django.urls import URLPattern, URLResolver, get_resolver

from core.api.pagination import PAGINATION_PARAMETERS
from core.api.schema import form_schema, query_parameters

API_ROOT = "api/v1/"

PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "request_id": {"type": "string"},
        "errors": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
    },
}

ERROR_DESCRIPTIONS = {
    400: "Invalid input; `errors` names each field at fault.",
    401: "Missing, malformed, unknown, revoked or expired API key.",
    403: "The API key lacks the scope, or its tenant is not active.",
    404: "Not found (or another tenant's).",
    405: "Method not allowed.",
    409: "State conflict, or an Idempotency-Key reused with another body.",
    422: "A business rule refused the request.",
    429: "Rate limited; see Retry-After.",
}

_CONVERTER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")


def _walk(patterns, prefix=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            view_class = getattr(entry.callback, "view_class", None)
            if view_class is not None:
                yield prefix + str(entry.pattern), view_class


def _path_template(route):
    params = []

    def replace(match):
        params.append((match["name"], match["converter"] or "str"))
        return "{" + match["name"] + "}"

    path = _CONVERTER.sub(replace, route).rstrip("/").removeprefix(API_ROOT.rstrip("/"))
    return "/" + path.lstrip("/"), params


def _responses(op, has_path_params):
    ok = {"description": op.summary or "OK"}
    if op.response is not None:
        body = op.response
        if op.paginated:
            body = {
                "type": "object",
                "required": ["data", "next_cursor"],
                "properties": {
                    "data": {"type": "array", "items": op.response},
                    "next_cursor": {"type": ["string", "null"]},
                },
            }
        ok["content"] = {"application/json": {"schema": body}}
    responses = {str(op.status): ok}
    errors = set(op.errors)
    if op.auth:
        errors |= {401, 403, 429}
    if op.request_form or op.query_form or op.paginated or op.idempotent:
        errors.add(400)
    if op.idempotent:
        errors.add(409)
    if has_path_params:
        errors.add(404)
    problem = {"$ref": "#/components/schemas/Problem"}
    for status in sorted(errors):
        responses[str(status)] = {
            "description": ERROR_DESCRIPTIONS.get(status, "Error"),
            "content": {"application/problem+json": {"schema": problem}},
        }
    return responses


def _operation(op, method, view_class, path_params):
    document = {
        "operationId": f"{view_class.__name__}_{method}",
        "summary": op.summary,
        "tags": list(op.tags),
        "parameters": [
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": {"type": "integer" if converter == "int" else "string"},
            }
            for name, converter in path_params
        ],
        "responses": _responses(op, bool(path_params)),
    }
    if op.description:
        document["description"] = op.description
    if op.query_form is not None:
        document["parameters"] += query_parameters(op.query_form)
    if op.paginated:
        document["parameters"] += PAGINATION_PARAMETERS
    if op.idempotent:
        document["parameters"].append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                "description": "Retries with the same key replay the first response.",
            }
        )
    if op.request_form is not None:
        document["requestBody"] = {
            "required": not op.partial,
            "content": {
                "application/json": {"schema": form_schema(op.request_form, partial=op.partial)}
            },
        }
    if op.auth:
        document["security"] = [{"bearer": []}]
    else:
        document["security"] = []
    return document


def build_document():
    paths = {}
    for route, view_class in _walk(get_resolver().url_patterns):
        if not route.startswith(API_ROOT):
            continue
        path, params = _path_template(route)
        for method in view_class.http_method_names:
            op = getattr(getattr(view_class, method, None), "operation", None)
            if op is not None:
                paths.setdefault(path, {})[method] = _operation(op, method, view_class, params)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Ledgerline partner API",
            "version": "1",
            "description": "Customers, accounts, lending and audit for partners of a tenant.",
        },
        "servers": [{"url": "/api/v1"}],
        "paths": paths,
        "components": {
            "schemas": {"Problem": PROBLEM_SCHEMA},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
