"""Explicit JSON shapes of customers, relationships and owners, with their schemas."""

from core.api.schema import DECIMAL_PATTERN
from core.decimals import plain_decimal
from customers.models import Customer, CustomerRelationship

_NULLABLE_STRING = {"type": ["string", "null"]}


def _enum(choices):
    return {"type": "string", "enum": list(choices.values)}


def customer_json(customer):
    return {
        "reference": customer.reference,
        "type": customer.type,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "legal_name": customer.legal_name,
        "email": customer.email,
        "phone": customer.phone,
        "date_of_birth": customer.date_of_birth,
        "national_id": customer.masked_national_id,
        "address": {
            "line1": customer.address_line1,
            "line2": customer.address_line2,
            "city": customer.address_city,
            "postal_code": customer.address_postal_code,
            "country": customer.address_country,
        },
        "status": customer.status,
        "kyc_status": customer.kyc_status,
        "risk_rating": customer.risk_rating,
        "created_at": customer.created_at,
        "updated_at": customer.updated_at,
    }


CUSTOMER_SCHEMA = {
    "type": "object",
    "required": ["reference", "type", "status", "kyc_status", "created_at", "updated_at"],
    "properties": {
        "reference": {"type": "string"},
        "type": _enum(Customer.Type),
        "first_name": {"type": "string"},
        "last_name": {"type": "string"},
        "legal_name": {"type": "string"},
        "email": {"type": "string"},
        "phone": {"type": "string"},
        "date_of_birth": {"type": ["string", "null"], "format": "date"},
        "national_id": {"type": "string", "description": "Masked to its last 4 characters."},
        "address": {
            "type": "object",
            "properties": {
                name: {"type": "string"}
                for name in ("line1", "line2", "city", "postal_code", "country")
            },
        },
        "status": _enum(Customer.Status),
        "kyc_status": _enum(Customer.KycStatus),
        "risk_rating": _enum(Customer.RiskRating),
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
    },
}


def relationship_json(relationship):
    return {
        "id": relationship.pk,
        "type": relationship.type,
        "customer": relationship.customer.reference,
        "related_customer": relationship.related_customer.reference,
        "ownership_percentage": plain_decimal(relationship.ownership_percentage),
        "started_on": relationship.started_on,
        "ended_on": relationship.ended_on,
    }


RELATIONSHIP_SCHEMA = {
    "type": "object",
    "required": ["id", "type", "customer", "related_customer"],
    "properties": {
        "id": {"type": "integer"},
        "type": _enum(CustomerRelationship.Type),
        "customer": {"type": "string"},
        "related_customer": {"type": "string"},
        "ownership_percentage": {**_NULLABLE_STRING, "pattern": DECIMAL_PATTERN},
        "started_on": {"type": ["string", "null"], "format": "date"},
        "ended_on": {"type": ["string", "null"], "format": "date"},
    },
}


def owner_json(owner):
    return {
        "customer": owner.customer.reference,
        "name": owner.customer.display_name,
        "effective_ownership": plain_decimal(owner.effective_ownership),
        "paths": owner.paths,
        "paths_truncated": owner.paths_truncated,
    }


OWNERS_SCHEMA = {
    "type": "object",
    "required": ["data"],
    "properties": {
        "data": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["customer", "effective_ownership", "paths"],
                "properties": {
                    "customer": {"type": "string"},
                    "name": {"type": "string"},
                    "effective_ownership": {"type": "string", "pattern": DECIMAL_PATTERN},
                    "paths": {
                        "type": "array",
                        "items": {"type": "array", "items": {"type": "string"}},
                    },
                    "paths_truncated": {
                        "type": "boolean",
                        "description": "More paths exist than are listed (at most 50).",
                    },
                },
            },
        }
    },
}
