"""Business rules of customers and relationships: each written once, here, and called by the
forms (for clear field errors) and by the services (again, under row locks, so that two
concurrent requests cannot together break a rule each passed alone, and so that code creating
customers without a form obeys them too).

Input rules raise Django's `ValidationError` naming the field at fault; rules about the state
of stored rows raise the domain errors of `core.errors`.
"""

import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models import Q
from django.utils import timezone

from core.countries import normalise_country
from core.decimals import plain_decimal
from core.errors import Conflict, RuleViolation
from customers.models import Customer, CustomerRelationship
from customers.phones import parse_phone

FULL_OWNERSHIP = Decimal(100)
OLDEST_PLAUSIBLE_AGE = 130

Type = Customer.Type
Status = Customer.Status
KycStatus = Customer.KycStatus

# --- customer fields --------------------------------------------------------------------------

NAME_FIELDS = ("first_name", "last_name", "legal_name")
# Fields only one type of customer has; the other type must leave them empty.
PERSON_FIELDS = ("first_name", "last_name", "date_of_birth")
BUSINESS_FIELDS = ("legal_name",)
REQUIRED = {Type.INDIVIDUAL: PERSON_FIELDS, Type.BUSINESS: BUSINESS_FIELDS}
FOREIGN = {Type.INDIVIDUAL: BUSINESS_FIELDS, Type.BUSINESS: PERSON_FIELDS}
TYPE_LABEL = {Type.INDIVIDUAL: "an individual", Type.BUSINESS: "a business"}

# Characters that show nothing: format characters (zero-width space, joiners, BOM), spaces and
# separators, unassigned and private-use code points, and the blank letters of some scripts.
_INVISIBLE_CATEGORIES = frozenset({"Cf", "Zs", "Zl", "Zp", "Cn", "Co"})
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
# Default-ignorable marks outside those categories (Unicode's Default_Ignorable_Code_Point):
# the combining grapheme joiner, Khmer inherent vowels, Mongolian free variation selectors and
# the variation selectors, plain and supplementary.
_IGNORABLE_MARKS = (
    (0x034F, 0x034F),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0xFE00, 0xFE0F),
    (0xE0100, 0xE01EF),
)
# Control characters (CR, LF, tab, NUL, ...) and line/paragraph separators break a name's line.
_LINE_BREAKING = frozenset({"Cc", "Zl", "Zp"})


def _invisible(char):
    code = ord(char)
    return (
        unicodedata.category(char) in _INVISIBLE_CATEGORIES
        or char in _BLANK_LETTERS
        or any(low <= code <= high for low, high in _IGNORABLE_MARKS)
    )


def clean_name(value):
    """A name without the invisible characters around it; "" if nothing visible is left.
    Control characters and line breaks (CR, LF) are refused anywhere in it."""
    text = value or ""
    if any(unicodedata.category(char) in _LINE_BREAKING for char in text):
        raise ValidationError("A name is one line of text, without control characters.")
    start, end = 0, len(text)
    while start < end and _invisible(text[start]):
        start += 1
    while end > start and _invisible(text[end - 1]):
        end -= 1
    return text[start:end]


def clean_email(value):
    email = (value or "").strip().lower()
    if email:
        validate_email(email)
    return email


def _text(value):
    return (value or "").strip()


def check_date_of_birth(born, *, today=None):
    """A person's date of birth: not in the future, plausible, and at least the minimum age."""
    today = today or timezone.localdate()
    if born > today:
        raise ValidationError("The date of birth cannot be in the future.")
    age = years_between(born, today)
    if age > OLDEST_PLAUSIBLE_AGE:
        raise ValidationError("This date of birth is not plausible.")
    if age < settings.CUSTOMER_MINIMUM_AGE:
        raise ValidationError(
            f"Customers must be at least {settings.CUSTOMER_MINIMUM_AGE} years old."
        )


def years_between(born, today):
    """Whole years; someone born on 29 February turns a year older on 1 March."""
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _risk_rating(value):
    if value not in Customer.RiskRating.values:
        raise ValidationError(f"Choose one of: {', '.join(Customer.RiskRating.values)}.")
    return value


FIELD_CLEANERS = {
    "first_name": clean_name,
    "last_name": clean_name,
    "legal_name": clean_name,
    "email": clean_email,
    "phone": parse_phone,
    "national_id": _text,
    "address_line1": _text,
    "address_line2": _text,
    "address_city": _text,
    "address_postal_code": _text,
    "address_country": normalise_country,
    "risk_rating": _risk_rating,
}
CUSTOMER_FIELDS = frozenset({"type", "date_of_birth", *FIELD_CLEANERS})


def email_taken(email, *, exclude_pk=None):
    """Does another live customer of the tenant use `email`? (The database enforces it too,
    as the constraint `customer_live_email`.)"""
    return Customer.objects.filter(email=email).exclude(pk=exclude_pk).exists()


def clean_customer(values, *, changed=None, existing=None):
    """Check and normalise a customer's fields; return them cleaned or raise ValidationError
    naming every field at fault.

    `values` is the whole record: what is created, or the stored record with the changes
    applied. Field rules run on the fields in `changed` (default: all of `values`); the rules
    between fields (what each type needs and must not have) on the whole record. A field
    missing from `values` is not judged (a form leaves out fields that already failed).
    `existing` is the stored customer when updating.
    """
    cleaned, errors = dict(values), {}
    judged = set(values) if changed is None else set(changed) & set(values)
    for name in judged & set(FIELD_CLEANERS):
        try:
            cleaned[name] = FIELD_CLEANERS[name](cleaned[name])
        except ValidationError as error:
            errors[name] = error.messages
    if existing is not None and "type" in judged and cleaned["type"] != existing.type:
        errors["type"] = ["The type of an existing customer cannot change."]
    kind = cleaned.get("type")
    if kind not in REQUIRED:
        if "type" in values:
            errors.setdefault("type", [f"Choose one of: {', '.join(Type.values)}."])
    else:
        for name in REQUIRED[kind]:
            if name in cleaned and name not in errors and not cleaned[name]:
                errors[name] = [f"Required for {TYPE_LABEL[kind]}."]
        for name in FOREIGN[kind]:
            if cleaned.get(name):
                errors[name] = [f"{TYPE_LABEL[kind].capitalize()} has no {_label(name)}."]
        born = cleaned.get("date_of_birth")
        if kind == Type.INDIVIDUAL and born and "date_of_birth" in judged:
            try:
                check_date_of_birth(born)
            except ValidationError as error:
                errors["date_of_birth"] = error.messages
    email = cleaned.get("email")
    exclude_pk = existing.pk if existing is not None else None
    if (
        email
        and "email" in judged
        and "email" not in errors
        and email_taken(email, exclude_pk=exclude_pk)
    ):
        errors["email"] = ["Another customer already has this email address."]
    if errors:
        raise ValidationError(errors)
    return cleaned


def _label(name):
    return Customer._meta.get_field(name).verbose_name


# --- customer lifecycle -----------------------------------------------------------------------

# Where a customer may go from each status. Closed is final; blocked can be lifted.
STATUS_TRANSITIONS = {
    Status.PROSPECT: {Status.ACTIVE, Status.BLOCKED, Status.CLOSED},
    Status.ACTIVE: {Status.DORMANT, Status.BLOCKED, Status.CLOSED},
    Status.DORMANT: {Status.ACTIVE, Status.BLOCKED, Status.CLOSED},
    Status.BLOCKED: {Status.ACTIVE, Status.CLOSED},
    Status.CLOSED: set(),
}

KYC_TRANSITIONS = {
    KycStatus.PENDING: {KycStatus.VERIFIED, KycStatus.REJECTED},
    KycStatus.VERIFIED: {KycStatus.EXPIRED, KycStatus.REJECTED},
    KycStatus.REJECTED: {KycStatus.PENDING, KycStatus.VERIFIED},
    KycStatus.EXPIRED: {KycStatus.PENDING, KycStatus.VERIFIED, KycStatus.REJECTED},
}


def check_not_deleted(customer):
    """A deleted customer is restored before anything about it changes (its fields, status
    or KYC)."""
    if customer.is_deleted:
        raise Conflict(f"{customer.reference} is deleted; restore it before editing.")


def check_editable(customer):
    """A deleted customer is restored before it is edited; a closed one is final."""
    check_not_deleted(customer)
    if customer.status == Status.CLOSED:
        raise Conflict(f"{customer.reference} is closed; a closed customer's record is final.")


def check_status_change(customer, status):
    """Only along STATUS_TRANSITIONS; becoming active needs verified KYC."""
    if status not in STATUS_TRANSITIONS[customer.status]:
        allowed = ", ".join(sorted(STATUS_TRANSITIONS[customer.status])) or "none (closed is final)"
        raise Conflict(
            f"{customer.reference} cannot go from {customer.status} to {status}. "
            f"Allowed from {customer.status}: {allowed}."
        )
    if status == Status.ACTIVE and customer.kyc_status != KycStatus.VERIFIED:
        raise RuleViolation(
            f"{customer.reference} cannot be activated: its KYC is {customer.kyc_status}, "
            "not verified. Verify KYC first (or in the same request)."
        )


def check_kyc_change(customer, kyc_status):
    if customer.status == Status.CLOSED:
        raise Conflict(f"{customer.reference} is closed; its KYC status no longer changes.")
    if kyc_status not in KYC_TRANSITIONS[customer.kyc_status]:
        raise Conflict(
            f"KYC of {customer.reference} cannot go from {customer.kyc_status} to {kyc_status}."
        )


# --- relationships ----------------------------------------------------------------------------


def in_force(on=None, *, include_future=False):
    """The relationships in force on `on` (default today): started by then (or with no start
    date) and not yet ended (`ended_on` is the first day without it). `include_future` also
    counts those starting later. The one definition every query of relationships uses;
    soft-deleted rows are left out by the `objects` manager."""
    on = on or timezone.localdate()
    not_ended = Q(ended_on__isnull=True) | Q(ended_on__gt=on)
    if include_future:
        return not_ended
    return not_ended & (Q(started_on__isnull=True) | Q(started_on__lte=on))


def relationships_in_force(on=None, *, include_future=False):
    return CustomerRelationship.objects.filter(in_force(on, include_future=include_future))


@dataclass(frozen=True)
class Holding:
    """A direct shareholding, stored or proposed: a percentage over a span of dates."""

    percentage: Decimal
    started_on: date | None = None
    ended_on: date | None = None

    def in_force_on(self, day):
        # `in_force(day)` for a holding not stored yet (a row of a form being checked).
        return (self.started_on is None or self.started_on <= day) and (
            self.ended_on is None or self.ended_on > day
        )


def peak_direct_ownership(holdings, *, today=None):
    """The largest total of `holdings` in force on one day from `today` on, and that day.

    A total only rises on a day some holding starts, so those days (and today) are the ones
    to look at; ended holdings are history and do not count.
    """
    today = today or timezone.localdate()
    days = {today} | {h.started_on for h in holdings if h.started_on and h.started_on > today}
    peak, peak_day = Decimal(0), today
    for day in sorted(days):
        total = sum((h.percentage for h in holdings if h.in_force_on(day)), Decimal(0))
        if total > peak:
            peak, peak_day = total, day
    return peak, peak_day


def stored_holdings(company, *, exclude_pks=()):
    """The live shareholdings of `company` not ended by today, except `exclude_pks`."""
    rows = (
        relationships_in_force(include_future=True)
        .filter(customer=company, type__in=CustomerRelationship.OWNERSHIP_TYPES)
        .exclude(pk__in=[pk for pk in exclude_pks if pk is not None])
        .values_list("ownership_percentage", "started_on", "ended_on")
    )
    return [Holding(*row) for row in rows]


def check_direct_ownership(company, proposed, *, exclude_pks=()):
    """The 100 % rule: on no day may the direct shareholdings of `company` (stored, except
    `exclude_pks`, plus `proposed` Holdings) add up to more than 100 %."""
    stored = stored_holdings(company, exclude_pks=exclude_pks)
    total, day = peak_direct_ownership([*stored, *proposed])
    if total <= FULL_OWNERSHIP:
        return
    when = "" if day == timezone.localdate() else f" on {day.isoformat()}"
    if len(proposed) > 1:  # several rows of a form at once
        raise ValidationError(
            f"Together these rows give {plain_decimal(total)}% direct ownership of "
            f"{company.reference}{when}; at most 100% is possible."
        )
    added = sum((h.percentage for h in proposed if h.in_force_on(day)), Decimal(0))
    raise ValidationError(
        f"{plain_decimal(total - added)}% of {company.reference} is already held "
        f"directly{when}; adding {plain_decimal(added)}% would exceed 100%."
    )


def check_parties_open(*parties):
    """No relationship is added to, or restored onto, a deleted or closed customer."""
    for party in parties:
        if party.is_deleted:
            raise Conflict(f"{party.reference} is deleted; it takes no relationships.")
        if party.status == Status.CLOSED:
            raise Conflict(f"{party.reference} is closed; it takes no new relationships.")


def check_relationship(
    *, customer, related, role, percentage, started_on, ended_on, exclude_pk=None
):
    """Raise ValidationError naming the field at fault, or return None."""
    # Imported here: ownership.py reads `in_force` from this module.
    from customers.ownership import would_create_cycle

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
        elif customer.type != Type.BUSINESS:
            errors["type"] = "Only a business can have shareholders."
        elif "ended_on" not in errors:
            try:
                check_direct_ownership(
                    customer, [Holding(percentage, started_on, ended_on)], exclude_pks=[exclude_pk]
                )
            except ValidationError as error:
                errors["ownership_percentage"] = error.messages
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
            relationships_in_force(include_future=True)
            .filter(customer=customer, related_customer=related, type=role)
            .exclude(pk=exclude_pk)
        )
        if duplicate.exists():
            errors["related_customer"] = (
                f"{related.reference} already holds this role towards {customer.reference}."
            )
    if errors:
        raise ValidationError(errors)
