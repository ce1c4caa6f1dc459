import hashlib
import secrets

from django.db import models
from django.utils import timezone

from core.history import tracked_history
from core.models.base import TenantScopedModel
from core.scopes import ALL_SCOPES

KEY_PREFIX = "ll_"
PUBLIC_PREFIX_LENGTH = 8


def hash_secret(raw_key):
    """Keys carry 256 random bits, so a fast digest is as safe as a slow one, and cheap per call."""
    return hashlib.sha256(raw_key.encode()).hexdigest()


def generate_raw_key():
    """`ll_<8 hex public prefix>_<secret>`: the prefix finds the row, the hash checks the rest."""
    prefix = secrets.token_hex(PUBLIC_PREFIX_LENGTH // 2)
    return prefix, f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"


def parse_public_prefix(raw_key):
    """The public prefix of a well-formed key, or None."""
    if not raw_key.startswith(KEY_PREFIX) or not raw_key.isprintable():
        return None
    prefix = raw_key[len(KEY_PREFIX) : len(KEY_PREFIX) + PUBLIC_PREFIX_LENGTH]
    rest = raw_key[len(KEY_PREFIX) + PUBLIC_PREFIX_LENGTH :]
    if len(prefix) != PUBLIC_PREFIX_LENGTH or not rest.startswith("_") or len(rest) < 20:
        return None
    return prefix


class PartnerKey(TenantScopedModel):
    """An API key of a partner. Only a hash of the secret is ever stored."""

    name = models.CharField(max_length=120)
    prefix = models.CharField(max_length=PUBLIC_PREFIX_LENGTH, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(default=list)
    is_active = models.BooleanField(default=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_by = models.CharField(max_length=150, blank=True, editable=False)
    created_by = models.CharField(max_length=150, blank=True, editable=False)

    history = tracked_history(excluded_fields=["last_used_at"])
    AUDIT_ID_FIELD = "prefix"  # audit events name it as actors name it
    # The audit log never shows the key's hash (it stands for the secret itself).
    history_hidden_fields = frozenset({"secret_hash"})

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "is_active"], name="partnerkey_tenant_active")]

    def __str__(self):
        return f"{self.name} ({self.prefix})"

    def has_scope(self, scope):
        return ALL_SCOPES in self.scopes or scope in self.scopes

    def is_expired(self, now=None):
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())

    def matches(self, raw_key):
        return secrets.compare_digest(self.secret_hash, hash_secret(raw_key))
