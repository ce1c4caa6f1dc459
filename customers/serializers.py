"""Explicit JSON shapes of customers, relationships and owners (their schemas: `schemas.py`)."""

from core.decimals import plain_decimal


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


def relationship_json(relationship):
    return {
        "id": relationship.number,  # per tenant: global ids would tell of other tenants
        "type": relationship.type,
        "customer": relationship.customer.reference,
        "related_customer": relationship.related_customer.reference,
        "ownership_percentage": plain_decimal(relationship.ownership_percentage),
        "started_on": relationship.started_on,
        "ended_on": relationship.ended_on,
    }


def owner_json(owner):
    return {
        "customer": owner.customer.reference,
        "name": owner.customer.display_name,
        "effective_ownership": plain_decimal(owner.effective_ownership),
        "paths": owner.paths,
        "paths_truncated": owner.paths_truncated,
    }
