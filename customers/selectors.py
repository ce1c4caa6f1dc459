"""Reads of customers: search, lookups by reference, relationships and history."""

from django.db import connection
from django.db.models import Case, FloatField, Q, Value, When
from django.db.models.functions import Greatest
from django.http import Http404

from audit import selectors as audit_selectors
from core.history import version_as_of
from customers.models import Customer, CustomerRelationship
from customers.phones import normalise_phone
from customers.rules import active_relationships

SEARCH_ORDERING = ("-rank", "-id")
LIST_ORDERING = ("-created_at", "-id")


def get_customer(reference):
    """The current tenant's live customer with `reference`, or 404 (another tenant's too)."""
    if "\x00" in reference:  # PostgreSQL refuses NUL in text; no reference contains one
        raise Http404("No such customer.")
    try:
        return Customer.objects.get(reference=reference)
    except Customer.DoesNotExist:
        raise Http404(f"No customer {reference}.") from None


def search_customers(*, q="", status=None, kyc_status=None, type=None):
    """Live customers matching the filters; with `q`, ranked best match first (`rank`).

    PostgreSQL: trigram similarity on the names (GIN-indexed), so a misspelt name still
    matches; exact reference, email, phone or national id rank highest. SQLite: containment.
    """
    queryset = Customer.objects.all()
    if status:
        queryset = queryset.filter(status=status)
    if kyc_status:
        queryset = queryset.filter(kyc_status=kyc_status)
    if type:
        queryset = queryset.filter(type=type)
    q = (q or "").strip()
    if not q:
        return queryset
    needle = q.lower()
    # Each alternative is served by an index, so PostgreSQL can OR bitmap scans instead of
    # reading the tenant's every row.
    exact = (
        Q(reference=q.upper()) | Q(email=needle) | Q(phone=normalise_phone(q)) | Q(national_id=q)
    )
    exact_rank = Case(When(exact, then=Value(1.0)), default=Value(0.0), output_field=FloatField())
    if connection.vendor == "postgresql":
        from django.contrib.postgres.search import TrigramSimilarity, TrigramWordSimilarity

        # Whole-name similarity catches a misspelt full name, word similarity a misspelt part;
        # both operators (%, %>) are served by the GIN trigram index.
        whole = TrigramSimilarity("search_name", Value(needle))
        word = TrigramWordSimilarity(Value(needle), "search_name")
        return queryset.annotate(
            rank=Greatest(exact_rank, whole, word, output_field=FloatField())
        ).filter(
            exact
            | Q(search_name__trigram_similar=needle)
            | Q(search_name__trigram_word_similar=needle)
            | Q(email__contains=needle)  # stored lower-case; LIKE uses the trigram index
            | Q(reference__contains=q.upper())
        )
    contains = (
        Q(search_name__contains=needle)
        | Q(email__contains=needle)
        | Q(reference__contains=q.upper())
    )
    partial_rank = Case(
        When(contains, then=Value(0.5)), default=Value(0.0), output_field=FloatField()
    )
    return queryset.annotate(rank=Greatest(exact_rank, partial_rank)).filter(exact | contains)


def relationships_of(customer):
    """The roles others hold towards `customer`, still in force, with the holders joined."""
    return (
        active_relationships()
        .filter(customer=customer)
        .select_related("customer", "related_customer")
        .order_by("id")
    )


def get_relationship(customer, relationship_id):
    try:
        return CustomerRelationship.objects.select_related("customer", "related_customer").get(
            customer=customer, pk=relationship_id
        )
    except (CustomerRelationship.DoesNotExist, ValueError):
        raise Http404("No such relationship.") from None


# The admin's history page masks what the model declares masked.
HISTORY_MASKED = Customer.history_masked_fields


def history_of(customer):
    """The customer's audit trail from the unified log: its own changes and those of the
    relationships in which it takes part."""
    return audit_selectors.history_of(customer)


def get_customer_as_of(reference, when):
    """The customer `reference` as it was at `when` (deleted now or not), or 404."""
    current = (
        Customer.all_objects.filter(reference=reference).first()
        if "\x00" not in reference
        else None
    )
    version = version_as_of(Customer, pk=current.pk, when=when) if current else None
    if version is None:
        raise Http404(f"No customer {reference} at {when.isoformat()}.")
    return version
