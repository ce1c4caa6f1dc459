"""Writes of the core app: partner keys."""

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.context import acting_as, actor_label, system_scope
from core.db.prepared import PreparedQuery
from core.models import PartnerKey
from core.models.partner_keys import generate_raw_key, hash_secret, parse_public_prefix
from core.rules import ensure_tenant_active
from core.scopes import ALL_SCOPES, api_scopes

# A key's last use is written at most this often, so a busy key does not write on every call.
LAST_USED_RESOLUTION = timedelta(seconds=60)


class KeyRejected(Exception):
    """Why a presented key cannot be used; the message is safe to show the caller.
    `genuine`: the key is valid and its own, but its bank may not act now (not a matter of
    sending other credentials)."""

    def __init__(self, message, *, genuine=False):
        super().__init__(message)
        self.genuine = genuine


def validate_scopes(scopes):
    """Only scopes the apps registered (`core.scopes`), or `*`."""
    known = (*api_scopes(), ALL_SCOPES)
    unknown = sorted(set(scopes) - set(known))
    if unknown:
        raise ValueError(f"Unknown scope(s): {', '.join(unknown)}. Known: {', '.join(known)}.")
    return sorted(set(scopes))


def issue_partner_key(*, tenant, name, scopes, expires_at=None, by=None):
    """Create a key and return `(key, raw_key)`. The raw key is shown once and never stored.

    Raises ConflictError for a tenant that is not active."""
    ensure_tenant_active(tenant)
    scopes = validate_scopes(scopes)
    for _attempt in range(5):
        prefix, raw_key = generate_raw_key()
        try:
            with transaction.atomic(), acting_as(by):
                key = PartnerKey.objects.create(
                    tenant=tenant,
                    name=name,
                    prefix=prefix,
                    secret_hash=hash_secret(raw_key),
                    scopes=scopes,
                    expires_at=expires_at,
                    created_by=actor_label(by),
                )
            return key, raw_key
        except IntegrityError:  # a public-prefix collision: draw again
            continue
    raise RuntimeError("Could not draw a unique key prefix; try again.")


def revoke_partner_key(*, key, by=None):
    if key.revoked_at is not None:
        return key
    key.is_active = False
    key.revoked_at = timezone.now()
    key.revoked_by = actor_label(by)
    with acting_as(by):
        key.save(update_fields=["is_active", "revoked_at", "revoked_by", "updated_at"])
    return key


# Every API request looks its key up: compiled once (core/db/prepared.py). Prefixes are unique.
_KEY_BY_PREFIX = PreparedQuery(
    lambda prefix: PartnerKey._base_manager.select_related("tenant").filter(prefix=prefix)
)


def authenticate_partner_key(raw_key):
    """The active key matching `raw_key`, or KeyRejected saying why not."""
    prefix = parse_public_prefix(raw_key)
    if prefix is None:
        raise KeyRejected("The API key is malformed.")
    with system_scope():  # the key decides the tenant: the lookup spans tenants by nature
        found = _KEY_BY_PREFIX(prefix=prefix)
    key = found[0] if found else None
    if key is None or not key.matches(raw_key):
        raise KeyRejected("The API key is not valid.")
    if not key.is_active:
        raise KeyRejected("The API key has been revoked.")
    now = timezone.now()
    if key.is_expired(now):
        raise KeyRejected("The API key has expired.")
    if not key.tenant.is_active:
        raise KeyRejected("The tenant of this API key is not active.", genuine=True)
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        with system_scope():
            PartnerKey._base_manager.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key
