"""JSON Schema of the partner API: shared components, and schemas derived from forms.

Responses are described by named components (`Customer`, `Problem`, ...) that each app declares
once in its `schemas` module with `component(name, schema)`; operations point at them with the
`$ref` that `component()` returns or that `schema_ref(name)` builds. The OpenAPI document
publishes every registered component under `components/schemas`.

A request body or query is described with the very form the view validates it with, so
documentation and validation cannot drift apart.
"""

from django import forms
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import autodiscover_modules

DECIMAL_PATTERN = r"^-?\d+(\.\d+)?$"
REF_PREFIX = "#/components/schemas/"
_COMPONENTS = {}


def component(name, schema):
    """Declare `schema` as the shared component `name`; return the `$ref` that points at it.

    Declaring the same name twice with another schema is a mistake caught at import time.
    """
    if _COMPONENTS.setdefault(name, schema) != schema:
        raise ImproperlyConfigured(f"Two different API schemas are both named {name!r}.")
    return schema_ref(name)


def schema_ref(name):
    """`{"$ref": ...}` to the component `name` (declared in some app's `schemas` module)."""
    return {"$ref": REF_PREFIX + name}


def ref_name(schema):
    """The component name a `$ref` schema points at, or None for an inline schema."""
    ref = schema.get("$ref", "") if isinstance(schema, dict) else ""
    return ref.removeprefix(REF_PREFIX) if ref.startswith(REF_PREFIX) else None


def components():
    """Every declared component, after importing each installed app's `schemas` module."""
    autodiscover_modules("schemas")
    return dict(sorted(_COMPONENTS.items()))


def field_schema(field):
    schema = _base_schema(field)
    if field.help_text:
        schema["description"] = str(field.help_text)
    return schema


def _base_schema(field):
    if isinstance(field, forms.TypedChoiceField | forms.ChoiceField) and not isinstance(
        field, forms.ModelChoiceField
    ):
        values = [str(value) for value, _label in field.choices if value != ""]
        return {"type": "string", "enum": values}
    if isinstance(field, forms.BooleanField):
        return {"type": "boolean"}
    if isinstance(field, forms.DecimalField):  # before IntegerField, its base class
        # Money and percentages travel as decimal strings ("1250.00"), never as floats.
        return {"type": "string", "format": "decimal", "pattern": DECIMAL_PATTERN}
    if isinstance(field, forms.IntegerField):
        schema = {"type": "integer"}
        _bounds(field, schema)
        return schema
    if isinstance(field, forms.DateTimeField):
        return {"type": "string", "format": "date-time"}
    if isinstance(field, forms.DateField):
        return {"type": "string", "format": "date"}
    if isinstance(field, forms.EmailField):
        schema = {"type": "string", "format": "email"}
        _lengths(field, schema)
        return schema
    if isinstance(field, forms.JSONField):
        return {}
    if isinstance(field, forms.MultipleChoiceField):
        values = [str(value) for value, _label in field.choices]
        return {"type": "array", "items": {"type": "string", "enum": values}}
    if isinstance(field, forms.CharField):
        schema = {"type": "string"}
        _lengths(field, schema)
        pattern = getattr(field, "api_pattern", None)
        if pattern:
            schema["pattern"] = pattern
        return schema
    return {"type": "string"}


def _lengths(field, schema):
    if field.max_length is not None:
        schema["maxLength"] = field.max_length
    if field.min_length is not None:
        schema["minLength"] = field.min_length


def _bounds(field, schema):
    if field.min_value is not None:
        schema["minimum"] = field.min_value
    if field.max_value is not None:
        schema["maximum"] = field.max_value


def form_schema(form_class, *, partial=False):
    """The JSON object a form accepts; `partial` for PATCH (nothing required).

    A form may group fields into nested objects with `api_nested = {"address": "address_"}`:
    the JSON `{"address": {"city": ...}}` feeds the form field `address_city`.
    """
    nested = getattr(form_class, "api_nested", {})
    properties, required = {}, []
    groups = {name: ({}, []) for name in nested}
    for name, field in form_class.base_fields.items():
        group = next((g for g, prefix in nested.items() if name.startswith(prefix)), None)
        if group is None:
            target_props, target_required, key = properties, required, name
        else:
            target_props, target_required = groups[group]
            key = name[len(nested[group]) :]
        schema = field_schema(field)
        if not field.required:
            schema = {"anyOf": [schema, {"type": "null"}]}  # optional: may be sent as null
        target_props[key] = schema
        if field.required and not partial:
            target_required.append(key)
    for group, (props, req) in groups.items():
        group_schema = {"type": "object", "properties": props, "additionalProperties": False}
        if req:
            group_schema["required"] = req
        properties[group] = group_schema
        if req and not partial:
            required.append(group)
    schema = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema


def flatten_nested(form_class, data):
    """Turn the JSON body's nested groups into the form's flat field names."""
    nested = getattr(form_class, "api_nested", {})
    flat = {}
    for key, value in data.items():
        if key in nested:
            if not isinstance(value, dict):
                flat[key] = value  # left for the form, which names the field as wrong
                continue
            for inner, inner_value in value.items():
                flat[nested[key] + inner] = inner_value
        else:
            flat[key] = value
    return flat


def query_parameters(form_class):
    """OpenAPI query parameters from a filter form."""
    return [
        {
            "name": name,
            "in": "query",
            "required": field.required,
            "schema": field_schema(field),
        }
        for name, field in form_class.base_fields.items()
    ]
