"""Keyset pagination: `limit` and an opaque `cursor` naming where the last page ended.

A cursor holds the last row's ordering values (ids, timestamps), which must tell a partner
nothing: it is encrypted and authenticated (AES-256-GCM, key derived from SECRET_KEY), and bound
to the tenant and the listing that issued it, so a cursor that was altered, or comes from
another tenant or another list, fails authentication and answers 400 naming `cursor`.
"""

import base64
import binascii
import functools
import json
import os
from datetime import date, datetime
from decimal import Decimal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db.models import Q

from core.api.problems import validation_error
from core.context import get_current_tenant

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
_KEY_PURPOSE = b"ledgerline.api.cursor.v1"
_NONCE_BYTES = 12

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


@functools.lru_cache(maxsize=8)
def _cipher(secret):
    """An AES-GCM cipher keyed for cursors alone, derived from `secret` (never SECRET_KEY
    itself, which also signs sessions)."""
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_KEY_PURPOSE).derive(
        secret.encode()
    )
    return AESGCM(key)


def _binding(request):
    """What a cursor is bound to: the tenant and the listing (path; trailing slash optional)."""
    tenant = get_current_tenant()
    return f"{tenant.pk if tenant else '-'}|{request.path.rstrip('/')}".encode()


def encode_cursor(request, payload):
    nonce = os.urandom(_NONCE_BYTES)
    sealed = _cipher(settings.SECRET_KEY).encrypt(
        nonce, json.dumps(payload, separators=(",", ":")).encode(), _binding(request)
    )
    return base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode()


def decode_cursor(request, raw):
    """The payload of a cursor this deployment issued to this tenant for this listing.

    Raises ValueError otherwise. Cursors issued under a key in SECRET_KEY_FALLBACKS still work.
    """
    try:
        blob = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("not base64") from None
    nonce, sealed = blob[:_NONCE_BYTES], blob[_NONCE_BYTES:]
    for secret in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]:
        try:
            return json.loads(_cipher(secret).decrypt(nonce, sealed, _binding(request)))
        except (InvalidTag, ValueError):
            continue
    raise ValueError("not a cursor of this listing")


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


def keyset_after(ordering, values):
    """Rows strictly after `values` in `ordering` (e.g. ["-created_at", "-id"]).

    Leads with a bound on the first field alone (`created_at <= v`), which the expansion
    implies: an index that ends in the ordering starts the page there, rather than reading and
    discarding every row of the pages before it.
    """
    first, first_value = ordering[0], values[0]
    condition = Q()
    equal_so_far = Q()
    for field, value in zip(ordering, values, strict=True):
        name = field.lstrip("-")
        lookup = "lt" if field.startswith("-") else "gt"
        condition |= equal_so_far & Q(**{f"{name}__{lookup}": value})
        equal_so_far &= Q(**{name: value})
    if len(ordering) == 1:
        return condition
    bound = "lte" if first.startswith("-") else "gte"
    return Q(**{f"{first.lstrip('-')}__{bound}": first_value}) & condition


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
            payload = decode_cursor(request, raw_cursor)
            values = [_decode_value(v) for v in payload["after"]]
            if payload.get("order") != ordering or len(values) != len(ordering):
                raise ValueError("cursor from another listing")
        except (KeyError, TypeError, ValueError):
            raise validation_error(
                {"cursor": ["This cursor is not valid here; start again without one."]}
            ) from None
        queryset = queryset.filter(keyset_after(ordering, values))
    rows = list(queryset[: limit + 1])
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        after = [_encode_value(_attr(last, f.lstrip("-"))) for f in ordering]
        next_cursor = encode_cursor(request, {"order": ordering, "after": after})
    return rows, next_cursor


def _attr(obj, path):
    for part in path.split("__"):
        obj = getattr(obj, part)
    return obj
