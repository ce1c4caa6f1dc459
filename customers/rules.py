"""Business rules of customers and relationships, shared by the forms and the services.

The forms call them for clear field errors; the services call them again under a row lock so
that two concurrent requests cannot together break a rule each passed alone.
"""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import Q, Sum
from django.utils import timezone

from core.decimals import plain_decimal
from customers.models import Customer, CustomerRelationship
from customers.ownership import would_create_cycle

FULL_OWNERSHIP = Decimal(100)


def active_relationships(on=None):
    on = on or timezone.localdate()
    return CustomerRelationship.objects.filter(
        Q(ended_on__isnull=True) | Q(ended_on__gt=on),
    )


def direct_ownership_held(company, *, exclude_pks=()):
    """The percentage of `company` its live, current shareholders hold directly."""
    held = (
        active_relationships()
        .filter(customer=company, type__in=CustomerRelationship.OWNERSHIP_TYPES)
        .exclude(pk__in=[pk for pk in exclude_pks if pk is not None])
        .aggregate(total=Sum("ownership_percentage"))["total"]
    )
    return held or Decimal(0)


def check_relationship(
    *, customer, related, role, percentage, started_on, ended_on, exclude_pk=None
):
    """Raise ValidationError naming the field at fault, or return None."""
    errors = {}
    if related is not None and related.tenant_id != customer.tenant_id:
        raise ValidationError({"related_customer": "No customer with this reference."})
    if related is not None and related.pk == customer.pk:
        errors["related_customer"] = "A customer cannot hold a role towards itself."
    if started_on and ended_on and ended_on < started_on:
        errors["ended_on"] = "The end date cannot be before the start date."
    if role in CustomerRelationship.OWNERSHIP_TYPES:
        if percentage is None:
            errors["ownership_percentage"] = f"Required for a {role}."
        elif not Decimal(0) < percentage <= FULL_OWNERSHIP:
            errors["ownership_percentage"] = "Must be more than 0 and at most 100."
        elif customer.type != Customer.Type.BUSINESS:
            errors["type"] = "Only a business can have shareholders."
        else:
            held = active_relationships().filter(customer=customer, type=role).exclude(
                pk=exclude_pk
            ).aggregate(total=Sum("ownership_percentage"))["total"] or Decimal(0)
            if held + percentage > FULL_OWNERSHIP:
                errors["ownership_percentage"] = (
                    f"{plain_decimal(held)}% of {customer.reference} is already held directly; "
                    f"adding {plain_decimal(percentage)}% would exceed 100%."
                )
        if (
            related is not None
            and "related_customer" not in errors
            and would_create_cycle(company=customer, owner=related)
        ):
            errors["related_customer"] = (
                f"{customer.reference} already owns {related.reference} directly or "
                "indirectly; ownership cannot go round in a circle."
            )
    elif percentage is not None:
        errors["ownership_percentage"] = "Only a shareholder has an ownership percentage."
    if related is not None and "related_customer" not in errors:
        duplicate = (
            active_relationships()
            .filter(customer=customer, related_customer=related, type=role)
            .exclude(pk=exclude_pk)
        )
        if duplicate.exists():
            errors["related_customer"] = (
                f"{related.reference} already holds this role towards {customer.reference}."
            )
    if errors:
        raise ValidationError(errors)
