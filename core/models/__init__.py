from core.models.base import TenantScopedModel
from core.models.counters import ReferenceCounter
from core.models.idempotency import IdempotencyRecord
from core.models.partner_keys import PartnerKey
from core.models.sessions import SessionEpoch
from core.models.softdelete import SoftDeleteModel, SoftDeleteQuerySet, live_unique
from core.models.tenancy import StaffMembership, Tenant

__all__ = [
    "IdempotencyRecord",
    "PartnerKey",
    "ReferenceCounter",
    "SessionEpoch",
    "SoftDeleteModel",
    "SoftDeleteQuerySet",
    "StaffMembership",
    "Tenant",
    "TenantScopedModel",
    "live_unique",
]
