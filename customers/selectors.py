"""Reads of customers: search, lookups by reference, relationships and history."""

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection
from django.db.models import Case, FloatField, Q, Value, When
from django.db.models.functions import Cast, Length

from audit import selectors as audit_selectors
from core.errors import NotFound
from core.history import version_as_of
from customers.models import Customer, CustomerRelationship
from customers.phones import normalise_phone
from customers.rules import relationships_in_force

SEARCH_ORDERING = ("-rank", "-id")
LIST_ORDERING = ("-created_at", "-id")


def get_customer(reference, *, include_deleted=False):
    """The current tenant's live customer with `reference` (or a soft-deleted one too, with
    `include_deleted`: its audit trail stays readable); NotFound otherwise (another tenant's
    too)."""
    if "\x00" in reference:  # PostgreSQL refuses NUL in text; no reference contains one
        raise NotFound("No such customer.")
    customers = Customer.all_objects if include_deleted else Customer.objects
    try:
        return customers.get(reference=reference)
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


# The admin's history page masks what the model declares masked.
HISTORY_MASKED = Customer.history_masked_fields


def history_of(customer):
    """The customer's audit trail from the unified log: its own changes and those of the
    relationships in which it takes part."""
    return audit_selectors.history_of(customer)


def get_customer_as_of(reference, when):
    """The customer `reference` as it was at `when` (deleted now or not), or 404."""
    try:
        current = get_customer(reference, include_deleted=True)
    except NotFound:
        current = None
    version = version_as_of(Customer, pk=current.pk, when=when) if current else None
    if version is None:
        raise NotFound(f"No customer {reference} at {when.isoformat()}.")
    return version
