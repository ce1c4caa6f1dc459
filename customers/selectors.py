"""Reads of customers: search, lookups by reference, relationships and history."""

from django.db import connection
from django.db.models import Case, FloatField, Q, Value, When
from django.db.models.functions import Greatest

from core.errors import NotFound
from core.history import changed_fields
from customers.models import Customer, CustomerRelationship, mask_national_id
from customers.phones import normalise_phone
from customers.rules import relationships_in_force

SEARCH_ORDERING = ("-rank", "-id")
LIST_ORDERING = ("-created_at", "-id")


def get_customer(reference):
    """The current tenant's live customer with `reference`; NotFound otherwise (another
    tenant's too)."""
    if "\x00" in reference:  # PostgreSQL refuses NUL in text; no reference contains one
        raise NotFound("No such customer.")
    try:
        return Customer.objects.get(reference=reference)
    except Customer.DoesNotExist:
        raise NotFound(f"No customer {reference}.") from None


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
    """The roles others hold towards `customer`, in force or yet to start, with the holders
    joined."""
    return (
        relationships_in_force(include_future=True)
        .filter(customer=customer)
        .select_related("customer", "related_customer")
        .order_by("id")
    )


def get_relationship(customer, relationship_id):
    try:
        return CustomerRelationship.objects.select_related("customer", "related_customer").get(
            customer=customer, number=relationship_id
        )
    except (CustomerRelationship.DoesNotExist, ValueError):
        raise NotFound("No such relationship.") from None


def history_events(rows, before_oldest):
    """Historical rows (newest first) as events with the fields each changed, old and new.

    `before_oldest` is the row preceding the last of `rows` (or None), so every diff is
    computed without a query per row.
    """
    events = []
    for newer, older in zip(rows, [*rows[1:], before_oldest], strict=True):
        events.append(
            {
                "id": newer.history_id,
                "occurred_at": newer.history_date,
                "action": newer.action,
                "actor": newer.actor,
                "request_id": newer.request_id,
                "ip_address": newer.ip_address,
                "changes": _changes(older, newer),
            }
        )
    return events


# What an auditor reading the API sees: not the search helper column, never the full id.
HISTORY_HIDDEN = frozenset({"search_name", "updated_at", "tenant"})
HISTORY_MASKED = {"national_id": mask_national_id}


def _changes(older, newer):
    changed = changed_fields(older, newer, hidden=HISTORY_HIDDEN, masked=HISTORY_MASKED)
    return {field.attname: [old, new] for field, (old, new) in changed.items()}


def history_rows(customer):
    return Customer.history.filter(id=customer.pk, tenant_id=customer.tenant_id)
