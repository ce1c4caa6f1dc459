"""Reads of customers: search, lookups by reference, relationships and history."""

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection
from django.db.models import Case, FloatField, Q, Value, When
from django.db.models.functions import Cast, Length

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
    """Live customers matching the filters; with `q`, searched and ranked (`ranked_search`)."""
    queryset = Customer.objects.all()
    if status:
        queryset = queryset.filter(status=status)
    if kyc_status:
        queryset = queryset.filter(kyc_status=kyc_status)
    if type:
        queryset = queryset.filter(type=type)
    q = (q or "").strip()
    return ranked_search(queryset, q) if q else queryset


def ranked_search(queryset, q):
    """The customers of `queryset` matching the search text `q`, annotated with `rank`; order
    them by SEARCH_ORDERING for the best match first. The API's list and the admin's changelist
    both search with it.

    A customer matches when `q` is its reference, email, phone or national id exactly, appears
    in its name, email or reference, or (PostgreSQL only) is similar to a word of its name
    (trigram word similarity, so "Jansn" finds Jansen and "Kowalksi" Kowalski). A complete
    email address matches that email only. `rank`: 1 for an exact identifier; 0.5 to 1 when the
    name contains `q` (more when `q` is more of the name); 0.5 when the email or reference
    contains it; at most 0.5 for a similar name.
    """
    q = q.strip()
    if not q:
        return queryset.annotate(rank=Value(0.0, output_field=FloatField()))
    needle = q.lower()
    if _is_email(needle):  # that customer, not every name or address resembling it
        return queryset.filter(email=needle).annotate(rank=Value(1.0, output_field=FloatField()))
    # Each alternative is served by an index (names, emails and references by the trigram GIN
    # index of migration 0002), so PostgreSQL ORs bitmap index scans instead of reading every
    # row, and checks each candidate row once. Alternatives that cannot match are left out: an
    # email or reference has no space, and a phone or national id always has a digit.
    in_name = Q(search_name__contains=needle)
    matches, in_identifier, exact = in_name, None, []
    if not any(char.isspace() for char in q):
        in_identifier = Q(email__contains=needle) | Q(reference__contains=q.upper())
        matches |= in_identifier  # exact reference and email included
        exact.append(Q(reference=q.upper()) | Q(email=needle))
    if any(char.isdigit() for char in q):
        by_number = Q(phone=normalise_phone(q)) | Q(national_id=q)  # in full only
        matches |= by_number
        exact.append(by_number)
    similar = Value(0.0)
    if connection.vendor == "postgresql":
        from django.contrib.postgres.search import TrigramStrictWordSimilarity

        # Last, so that a row already matched above is never tested by the costly similarity.
        matches |= Q(search_name__trigram_word_similar=needle)
        # Scored by whole words, so that "jansn" puts Jansen before Janssen.
        similar = Value(0.5) * TrigramStrictWordSimilarity(Value(needle), "search_name")
    name_share = Value(len(needle) / 2) / Cast(Length("search_name"), FloatField())
    rank = Case(
        *(When(condition, then=Value(1.0)) for condition in exact),
        When(in_name, then=Value(0.5) + name_share),
        *([When(in_identifier, then=Value(0.5))] if in_identifier else []),
        default=similar,
        output_field=FloatField(),
    )
    return queryset.filter(matches).annotate(rank=rank)


def _is_email(text):
    try:
        validate_email(text)
    except ValidationError:
        return False
    return True


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
