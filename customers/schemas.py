"""API schemas of customers: one component per shape that `customers/serializers.py` returns.

Each `component(...)` publishes a shape under `components/schemas` of the OpenAPI document and
returns the `$ref` the views declare as their response. `tests/api/test_response_schemas.py`
checks real responses against these, so a serializer and its schema cannot drift apart.
"""

from core.api.schema import DECIMAL_PATTERN, component
from customers.models import Customer, CustomerRelationship

_NULLABLE_DATE = {"type": ["string", "null"], "format": "date"}
_DATE_TIME = {"type": "string", "format": "date-time"}


def _enum(choices):
    return {"type": "string", "enum": list(choices.values)}


# Shared by responses, request bodies and query parameters (see `core.api.openapi`).
CUSTOMER_TYPE = component("CustomerType", _enum(Customer.Type))
CUSTOMER_STATUS = component("CustomerStatus", _enum(Customer.Status))
KYC_STATUS = component("KycStatus", _enum(Customer.KycStatus))
RISK_RATING = component("RiskRating", _enum(Customer.RiskRating))
RELATIONSHIP_TYPE = component("RelationshipType", _enum(CustomerRelationship.Type))

ADDRESS = component(
    "Address",
    {
        "type": "object",
        "required": ["line1", "line2", "city", "postal_code", "country"],
        "properties": {
            "line1": {"type": "string"},
            "line2": {"type": "string"},
            "city": {"type": "string"},
            "postal_code": {"type": "string"},
            "country": {"type": "string", "description": "ISO 3166-1 alpha-2, or empty."},
        },
    },
)

CUSTOMER = component(
    "Customer",
    {
        "type": "object",
        "required": [
            "reference",
            "type",
            "first_name",
            "last_name",
            "legal_name",
            "email",
            "phone",
            "date_of_birth",
            "national_id",
            "address",
            "status",
            "kyc_status",
            "risk_rating",
            "created_at",
            "updated_at",
        ],
        "properties": {
            "reference": {"type": "string"},
            "type": CUSTOMER_TYPE,
            "first_name": {"type": "string", "description": "Individuals only; else empty."},
            "last_name": {"type": "string", "description": "Individuals only; else empty."},
            "legal_name": {"type": "string", "description": "Businesses only; else empty."},
            "email": {"type": "string"},
            "phone": {"type": "string", "description": "E.164, or empty."},
            "date_of_birth": {**_NULLABLE_DATE, "description": "Individuals only."},
            "national_id": {"type": "string", "description": "Masked to its last 4 characters."},
            "address": ADDRESS,
            "status": CUSTOMER_STATUS,
            "kyc_status": KYC_STATUS,
            "risk_rating": RISK_RATING,
            "created_at": _DATE_TIME,
            "updated_at": _DATE_TIME,
        },
    },
)

RELATIONSHIP = component(
    "Relationship",
    {
        "type": "object",
        "description": "`related_customer` holds the role `type` towards `customer`.",
        "required": [
            "id",
            "type",
            "customer",
            "related_customer",
            "ownership_percentage",
            "started_on",
            "ended_on",
        ],
        "properties": {
            "id": {"type": "integer"},
            "type": RELATIONSHIP_TYPE,
            "customer": {"type": "string", "description": "Reference of the customer."},
            "related_customer": {"type": "string", "description": "Reference of the holder."},
            "ownership_percentage": {
                "type": ["string", "null"],
                "pattern": DECIMAL_PATTERN,
                "description": "Percent in (0, 100] for a shareholder; null for other roles.",
            },
            "started_on": _NULLABLE_DATE,
            "ended_on": _NULLABLE_DATE,
        },
    },
)

BENEFICIAL_OWNER = component(
    "BeneficialOwner",
    {
        "type": "object",
        "required": ["customer", "name", "effective_ownership", "paths", "paths_truncated"],
        "properties": {
            "customer": {"type": "string", "description": "Reference of an individual."},
            "name": {"type": "string"},
            "effective_ownership": {
                "type": "string",
                "pattern": DECIMAL_PATTERN,
                "description": "Percent, summed over every shareholding path.",
            },
            "paths": {
                "type": "array",
                "description": "Each a list of references from the owner down to the company.",
                "items": {"type": "array", "items": {"type": "string"}},
            },
            "paths_truncated": {
                "type": "boolean",
                "description": "More paths exist than are listed (at most 50).",
            },
        },
    },
)

BENEFICIAL_OWNERS = component(
    "BeneficialOwners",
    {
        "type": "object",
        "description": "Every owner at or above the threshold, largest ownership first.",
        "required": ["data"],
        "properties": {"data": {"type": "array", "items": BENEFICIAL_OWNER}},
    },
)
