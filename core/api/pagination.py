"""Keyset pagination: `limit` and an opaque, signed `cursor` naming where the last page ended."""

from datetime import date, datetime
from decimal import Decimal

from django.core import signing
from django.db.models import Q

from core.api.problems import validation_error

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
_SALT = "ledgerline.api.cursor"

PAGINATION_PARAMETERS = [
    {
        "name": "limit",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
        "description": "Page size.",
    },
    {
        "name": "cursor",
        "in": "query",
        "required": False,
        "schema": {"type": "string"},
        "description": "The `next_cursor` of the previous page.",
    },
]


def _encode_value(value):
    if isinstance(value, datetime | date | Decimal):
        return {"t": type(value).__name__, "v": str(value)}
    return value


def _decode_value(value):
    if isinstance(value, dict):
        kind, raw = value.get("t"), value.get("v")
        if kind == "datetime":
            return datetime.fromisoformat(raw)
        if kind == "date":
            return date.fromisoformat(raw)
        if kind == "Decimal":
            return Decimal(raw)
        raise ValueError(kind)
    return value


def parse_limit(raw):
    if raw in (None, ""):
        return DEFAULT_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        raise validation_error({"limit": ["Enter a whole number."]}) from None
    if not 1 <= limit <= MAX_LIMIT:
        raise validation_error({"limit": [f"Enter a number from 1 to {MAX_LIMIT}."]})
    return limit


def _keyset_filter(ordering, values):
    """Rows strictly after `values` in `ordering` (e.g. ["-created_at", "-id"])."""
    condition = Q()
    equal_so_far = Q()
    for field, value in zip(ordering, values, strict=True):
        name = field.lstrip("-")
        lookup = "lt" if field.startswith("-") else "gt"
        condition |= equal_so_far & Q(**{f"{name}__{lookup}": value})
        equal_so_far &= Q(**{name: value})
    return condition


def paginate(request, queryset, *, ordering=("-id",)):
    """One page of `queryset` in a stable `ordering` ending in a unique field.

    Returns `(rows, next_cursor)`; the page costs one query whatever the page size.
    """
    limit = parse_limit(request.GET.get("limit"))
    ordering = list(ordering)
    raw_cursor = request.GET.get("cursor")
    queryset = queryset.order_by(*ordering)
    if raw_cursor:
        try:
            payload = signing.loads(raw_cursor, salt=_SALT)
            values = [_decode_value(v) for v in payload["after"]]
            if payload.get("order") != ordering or len(values) != len(ordering):
                raise ValueError("cursor from another listing")
        except (signing.BadSignature, KeyError, TypeError, ValueError):
            raise validation_error(
                {"cursor": ["This cursor is not valid here; start again without one."]}
            ) from None
        queryset = queryset.filter(_keyset_filter(ordering, values))
    rows = list(queryset[: limit + 1])
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        after = [_encode_value(_attr(last, f.lstrip("-"))) for f in ordering]
        next_cursor = signing.dumps({"order": ordering, "after": after}, salt=_SALT, compress=True)
    return rows, next_cursor


def _attr(obj, path):
    for part in path.split("__"):
        obj = getattr(obj, part)
    return obj
