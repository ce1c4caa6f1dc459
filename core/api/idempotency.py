"""`Idempotency-Key` for any POST: the first response is stored and replayed on retries.

The record is inserted in the same transaction as the work (`INSERT ... ON CONFLICT DO NOTHING`:
no savepoint on the money path). A second request with the same key blocks on the unique index
until the first commits, then finds the stored response and replays it; if the first rolled
back, the second does the work. So two concurrent requests run it once.
"""

import functools
import hashlib

from django.db import connection, transaction
from django.http import HttpResponse

from core.api.problems import ApiError
from core.db.inserts import insert_unless_conflict
from core.models import IdempotencyRecord

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255


def fingerprint(request):
    digest = hashlib.sha256()
    for part in (request.method, request.path, request.body):
        digest.update(part if isinstance(part, bytes) else part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def key_reused():
    """The refusal of a key that already served a different request."""
    return ApiError(
        409,
        "This Idempotency-Key was already used with a different request. Use a new key for a "
        "new request.",
        code="idempotency-key-reused",
    )


def _replay(record, request_fingerprint):
    if record.fingerprint != request_fingerprint:
        raise key_reused()
    response = HttpResponse(
        record.response_body, status=record.status_code, content_type=record.response_content_type
    )
    response[REPLAYED_HEADER] = "true"
    return response


RESPONSE_FIELDS = ("status_code", "response_body", "response_content_type")


@functools.cache
def _store_response_sql():
    """The UPDATE that stores the response, built once (`save(update_fields=...)` compiles it
    on every request; the record has no signals or save() logic to run)."""
    meta = IdempotencyRecord._meta
    quote = connection.ops.quote_name
    columns = ", ".join(f"{quote(meta.get_field(name).column)} = %s" for name in RESPONSE_FIELDS)
    return f"UPDATE {quote(meta.db_table)} SET {columns} WHERE {quote(meta.pk.column)} = %s"  # noqa: S608 (identifiers from model metadata)


def run_idempotent(request, key, work):
    """Run `work()` (which returns a response) at most once per partner key and `key`."""
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ApiError(
            400,
            f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable characters.",
            code="validation-error",
            errors={HEADER: ["Invalid key."]},
        )
    request_fingerprint = fingerprint(request)
    with transaction.atomic():
        record = IdempotencyRecord(
            key=key,
            partner_key=request.partner_key,
            method=request.method,
            path=request.path[:500],
            fingerprint=request_fingerprint,
        )
        if not insert_unless_conflict(record, conflict_fields=("tenant", "partner_key", "key")):
            existing = IdempotencyRecord.objects.get(partner_key=request.partner_key, key=key)
            return _replay(existing, request_fingerprint)
        response = work()
        if response.status_code >= 500:
            # Not a result worth keeping: let the client retry with the same key.
            transaction.set_rollback(True)
            return response
        record.status_code = response.status_code
        record.response_body = response.content.decode()
        record.response_content_type = response.get("Content-Type", "application/json")
        with connection.cursor() as cursor:
            cursor.execute(
                _store_response_sql(), [*(getattr(record, f) for f in RESPONSE_FIELDS), record.pk]
            )
        return response
