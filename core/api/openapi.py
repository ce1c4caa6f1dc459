"""The OpenAPI 3.1 document, built from the `@operation` declarations of the API views.

Shared shapes are components (`core.api.schema.component`); a paginated operation's response
is the list envelope of its item component (`Customer` -> `CustomerList`), and an enum a form
derives from the same choices as a declared enum component points at it. The build refuses
an operation without an explicit `operation_id`, two operations with the same one, and a
`$ref` to a component nobody declared, so a mistake fails the tests instead of a partner.
"""

import re

from django.core.exceptions import ImproperlyConfigured
from django.urls import URLPattern, URLResolver, get_resolver

from core.api.pagination import PAGINATION_PARAMETERS
from core.api.schema import (
    REF_PREFIX,
    components,
    form_schema,
    query_parameters,
    ref_name,
    schema_ref,
)

API_ROOT = "api/v1/"

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


def list_envelope(item):
    """The page of a paginated list: `{"data": [item, ...], "next_cursor": ...}`."""
    return {
        "type": "object",
        "required": ["data", "next_cursor"],
        "properties": {
            "data": {"type": "array", "items": item},
            "next_cursor": {
                "type": ["string", "null"],
                "description": "Pass as `cursor` for the next page; null on the last page.",
            },
        },
    }


def _response_schema(op, where, envelopes):
    name = ref_name(op.response)
    if name is None:
        raise ImproperlyConfigured(
            f"{where}: declare the response as a component (`component()` in the app's "
            "schemas module) and pass its `schema_ref(...)`, so clients share one model."
        )
    if not op.paginated:
        return op.response
    envelopes[f"{name}List"] = list_envelope(op.response)
    return schema_ref(f"{name}List")


def _responses(op, has_path_params, where, envelopes):
    ok = {"description": op.summary or "OK"}
    if op.response is not None:
        body = _response_schema(op, where, envelopes)
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
    problem = schema_ref("Problem")
    for status in sorted(errors):
        responses[str(status)] = {
            "description": ERROR_DESCRIPTIONS.get(status, "Error"),
            "content": {"application/problem+json": {"schema": problem}},
        }
    return responses


def _operation(op, path_params, where, envelopes):
    if not op.operation_id:
        raise ImproperlyConfigured(f"{where}: declare `@operation(operation_id=...)`.")
    document = {
        "operationId": op.operation_id,
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
        "responses": _responses(op, bool(path_params), where, envelopes),
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


def _refs(node):
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _check(paths, schemas):
    seen = {}
    for path, operations in paths.items():
        for method, document in operations.items():
            where = f"{method.upper()} {path}"
            other = seen.setdefault(document["operationId"], where)
            if other != where:
                raise ImproperlyConfigured(
                    f"{where} and {other} share the operationId {document['operationId']!r}."
                )
    for ref in set(_refs(paths)) | set(_refs(schemas)):
        if ref.removeprefix(REF_PREFIX) not in schemas:
            raise ImproperlyConfigured(f"No API schema component is declared for {ref!r}.")


def _share_enums(node, enums):
    """Replace each inline enum equal to a declared one (a form's field derived from the same
    choices as a response's) with that component's `$ref`, keeping its description."""
    if isinstance(node, list):
        return [_share_enums(value, enums) for value in node]
    if not isinstance(node, dict):
        return node
    bare = {key: value for key, value in node.items() if key != "description"}
    for name, schema in enums.items():
        if bare == schema:
            described = {"description": node["description"]} if "description" in node else {}
            return {**schema_ref(name), **described}
    return {key: _share_enums(value, enums) for key, value in node.items()}


def build_document():
    paths, envelopes = {}, {}
    for route, view_class in _walk(get_resolver().url_patterns):
        if not route.startswith(API_ROOT):
            continue
        path, params = _path_template(route)
        for method in view_class.http_method_names:
            op = getattr(getattr(view_class, method, None), "operation", None)
            if op is not None:
                where = f"{method.upper()} {path} ({view_class.__qualname__})"
                paths.setdefault(path, {})[method] = _operation(op, params, where, envelopes)
    schemas = components()
    for name, envelope in envelopes.items():
        if schemas.setdefault(name, envelope) != envelope:
            raise ImproperlyConfigured(f"The component {name!r} clashes with a list envelope.")
    paths = _share_enums(paths, {n: s for n, s in schemas.items() if "enum" in s})
    _check(paths, schemas)
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
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
