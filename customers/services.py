"""Every write of customers and their relationships.

Services take keyword arguments of plain data (values, and existing customers or relationships
to act on), check the rules of `customers.rules` under row locks, and raise `ValidationError`
(a field at fault) or the domain errors of `core.errors`. Forms validate input and call them;
a command, an import or another app calls them the same way, without a form.
"""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from core.context import acting_as, actor_label, get_current_tenant
from core.db.constraints import violated_constraint
from core.errors import Conflict
from core.references import next_reference
from customers import rules
from customers.blockers import closure_blockers
from customers.models import Customer, CustomerRelationship

# First key of the advisory lock taken while shareholdings change (the second is the tenant).
OWNERSHIP_LOCK_NAMESPACE = 7_201_001

Status = Customer.Status

# What a database constraint violated by a concurrent write means to the caller.
CONSTRAINT_ERRORS = {
    "customer_live_email": {"email": "Another customer already has this email address."},
}

RELATIONSHIP_FIELDS = frozenset(
    {"type", "related_customer", "ownership_percentage", "started_on", "ended_on"}
)


def _locked(customer):
    return Customer.all_objects.select_for_update().get(pk=customer.pk)


def _save(instance, *, by, **save_kwargs):
    """Save as `by`; a constraint a concurrent write got to first becomes a field error."""
    try:
        with transaction.atomic(), acting_as(by):
            instance.save(**save_kwargs)
    except IntegrityError as error:
        errors = CONSTRAINT_ERRORS.get(violated_constraint(error, type(instance)))
        if errors is None:
            raise
        raise ValidationError(errors) from None


def _refuse_unknown(fields, known):
    unknown = set(fields) - known
    if unknown:
        raise TypeError(f"Unknown field(s): {', '.join(sorted(unknown))}.")


# --- customers --------------------------------------------------------------------------------


@transaction.atomic
def create_customer(*, type, by=None, **fields):
    """Create a customer of the current tenant from its fields (`rules.CUSTOMER_FIELDS`:
    `first_name`, `last_name`, `legal_name`, `email`, `phone`, `date_of_birth`,
    `national_id`, `address_line1` ... `address_country`, `risk_rating`), with a fresh
    reference. A new customer is a prospect with KYC pending."""
    _refuse_unknown(fields, rules.CUSTOMER_FIELDS)
    values = {name: "" for name in rules.CUSTOMER_FIELDS}
    values.update(date_of_birth=None, risk_rating=Customer.RiskRating.LOW)
    values.update({name: value for name, value in fields.items() if value is not None})
    values["type"] = type
    customer = Customer(**rules.clean_customer(values))
    customer.tenant = get_current_tenant()
    customer.reference = next_reference(
        tenant=customer.tenant, prefix=Customer.REFERENCE_PREFIX, model=Customer
    )
    _save(customer, by=by)
    return customer


@transaction.atomic
def update_customer(*, customer, changes=None, by=None, **fields):
    """Change the fields given (in `changes` or as keyword arguments), `status` and
    `kyc_status` included (KYC first, so one call may verify KYC and activate), on the row as
    it is now, locked. One history row records them all; nothing is written for no change."""
    changes = {**(changes or {}), **fields}
    _refuse_unknown(changes, {*rules.CUSTOMER_FIELDS, "status", "kyc_status"})
    current = _locked(customer)
    rules.check_editable(current)
    status, kyc_status = changes.pop("status", None), changes.pop("kyc_status", None)
    stored = {name: getattr(current, name) for name in rules.CUSTOMER_FIELDS}
    cleaned = rules.clean_customer({**stored, **changes}, changed=changes, existing=current)
    changed = [name for name in changes if cleaned[name] != stored[name]]
    for name in changed:
        setattr(current, name, cleaned[name])
    if kyc_status and kyc_status != current.kyc_status:
        changed += _apply_kyc_status(current, kyc_status, by)
    if status and status != current.status:
        changed += _apply_status(current, status)
    if changed:
        _save(current, by=by, update_fields=[*changed, "search_name", "updated_at"])
    return current


def _apply_status(current, status):
    rules.check_status_change(current, status)
    if status == Status.CLOSED:
        _refuse_if_blocked(current, "close")
    current.status = status
    return ["status"]


def _apply_kyc_status(current, kyc_status, by):
    rules.check_kyc_change(current, kyc_status)
    current.kyc_status = kyc_status
    current.kyc_changed_at = timezone.now()
    current.kyc_changed_by = actor_label(by)
    return ["kyc_status", "kyc_changed_at", "kyc_changed_by"]


def _refuse_if_blocked(customer, doing):
    reasons = closure_blockers(customer)
    if reasons:
        raise Conflict(f"Cannot {doing} {customer.reference}: " + "; ".join(reasons) + ".")


@transaction.atomic
def change_status(*, customer, status, by=None):
    """Move the customer along a status transition; returns it as saved."""
    current = _locked(customer)
    rules.check_not_deleted(current)
    if status != current.status:
        _save(current, by=by, update_fields=[*_apply_status(current, status), "updated_at"])
    return current


@transaction.atomic
def change_kyc_status(*, customer, kyc_status, by=None):
    """Move the customer's KYC along a transition, recording who and when; returns it."""
    current = _locked(customer)
    rules.check_not_deleted(current)
    if kyc_status != current.kyc_status:
        fields = _apply_kyc_status(current, kyc_status, by)
        _save(current, by=by, update_fields=[*fields, "updated_at"])
    return current


@transaction.atomic
def soft_delete_customer(*, customer, by=None):
    current = _locked(customer)
    if current.is_deleted:
        return current
    _refuse_if_blocked(current, "delete")
    # A deleted customer holds no roles and no one holds roles towards it any more: its
    # relationships end today (restoring the customer does not revive them). Adding a
    # relationship locks both parties, so none can be added to it while this runs, and none
    # after (the addition re-checks, under the lock, that both parties are live).
    # Locking re-reads each row: one a concurrent request ended meanwhile is skipped.
    involved = CustomerRelationship.objects.filter(
        Q(customer=current) | Q(related_customer=current)
    ).select_for_update()
    for relationship in involved:
        _end(relationship, by=by)
    current.soft_delete(by=by)
    return current


@transaction.atomic
def restore_customer(*, customer, by=None):
    current = _locked(customer)
    if not current.is_deleted:
        return current
    if current.email and rules.email_taken(current.email):
        raise Conflict(
            f"Cannot restore {current.reference}: another live customer now uses "
            f"{current.email}. Change that customer's email first."
        )
    current.restore(by=by)
    return current


# --- relationships ----------------------------------------------------------------------------


def _lock_parties(customer, related, *, ownership):
    """Lock what the relationship rules read, always in the same order so that no two
    requests wait for each other: the tenant's ownership graph (an advisory lock, for
    shareholdings), then both customers' rows by id. Return them as they are now."""
    if related.tenant_id != customer.tenant_id:
        raise ValidationError({"related_customer": "No customer with this reference."})
    if ownership:
        _serialise_ownership_changes(customer.tenant_id)
    rows = {
        row.pk: row
        for row in Customer.all_objects.select_for_update()
        .filter(pk__in={customer.pk, related.pk})
        .order_by("pk")
    }
    return rows[customer.pk], rows[related.pk]


def _serialise_ownership_changes(tenant_id):
    """Two shareholdings added at once (A owns B, B owns A) each pass the cycle check alone:
    on PostgreSQL, a per-tenant advisory lock makes them take turns until commit. SQLite
    serialises all writers anyway."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", [OWNERSHIP_LOCK_NAMESPACE, tenant_id]
            )


def _percentage(value):
    return None if value in (None, "") else Decimal(str(value))


def _check(relationship, company, holder):
    rules.check_relationship(
        customer=company,
        related=holder,
        role=relationship.type,
        percentage=relationship.ownership_percentage,
        started_on=relationship.started_on,
        ended_on=relationship.ended_on,
        exclude_pk=relationship.pk,
    )


@transaction.atomic
def add_relationship(
    *,
    customer,
    related_customer,
    type,
    ownership_percentage=None,
    started_on=None,
    ended_on=None,
    by=None,
):
    """Record that `related_customer` holds the role `type` towards `customer` (both existing
    customers of one tenant). Both are locked, then every rule is checked: two concurrent
    additions cannot together pass 100 % direct ownership, and none lands on a customer being
    deleted or closed."""
    ownership = type in CustomerRelationship.OWNERSHIP_TYPES
    company, holder = _lock_parties(customer, related_customer, ownership=ownership)
    rules.check_parties_open(company, holder)
    relationship = CustomerRelationship(
        tenant_id=company.tenant_id,
        customer=company,
        related_customer=holder,
        type=type,
        ownership_percentage=_percentage(ownership_percentage),
        started_on=started_on,
        ended_on=ended_on,
    )
    _check(relationship, company, holder)
    _save(relationship, by=by)
    return relationship


@transaction.atomic
def update_relationship(*, relationship, changes=None, by=None, **fields):
    """Change a live relationship's fields (`type`, `related_customer`,
    `ownership_percentage`, `started_on`, `ended_on`), re-checked under the parties' locks
    like an addition."""
    changes = {**(changes or {}), **fields}
    _refuse_unknown(changes, RELATIONSHIP_FIELDS)
    current = CustomerRelationship.objects.select_related("related_customer").get(
        pk=relationship.pk
    )
    holder = changes.get("related_customer", current.related_customer)
    role = changes.get("type", current.type)
    ownership = CustomerRelationship.OWNERSHIP_TYPES & {role, current.type}
    company, holder = _lock_parties(current.customer, holder, ownership=bool(ownership))
    current = CustomerRelationship.objects.select_for_update().get(pk=relationship.pk)
    rules.check_parties_open(company, holder)
    if "ownership_percentage" in changes:
        changes["ownership_percentage"] = _percentage(changes["ownership_percentage"])
    for name, value in changes.items():
        setattr(current, name, value)
    _check(current, company, holder)
    _save(current, by=by)
    return current


@transaction.atomic
def restore_relationship(*, relationship, by=None):
    """Undo a soft delete, if the relationship still fits the rules (it may be in force again
    when it had been cancelled before it started) and both parties are live and open."""
    current = CustomerRelationship.all_objects.get(pk=relationship.pk)
    ownership = current.type in CustomerRelationship.OWNERSHIP_TYPES
    company, holder = _lock_parties(current.customer, current.related_customer, ownership=ownership)
    current = CustomerRelationship.all_objects.select_for_update().get(pk=relationship.pk)
    if not current.is_deleted:
        return current
    for party in (company, holder):
        if party.is_deleted:
            raise Conflict(f"Cannot restore: {party.reference} is deleted.")
    rules.check_parties_open(company, holder)
    _check(current, company, holder)
    current.restore(by=by)
    return current


@transaction.atomic
def end_relationship(*, relationship, by=None, on=None):
    """End a relationship: it gets an end date (today unless given) and is soft-deleted."""
    current = CustomerRelationship.all_objects.select_for_update().get(pk=relationship.pk)
    if current.is_deleted:
        raise Conflict("This relationship has already ended.")
    return _end(current, by=by, on=on)


def _end(current, *, by, on=None):
    """End a live relationship already locked."""
    on = on or timezone.localdate()
    if current.started_on and on < current.started_on:
        current.soft_delete(by=by)  # never started: cancelled, with no end date to record
    else:
        current.ended_on = min(current.ended_on or on, on)
        current.soft_delete(by=by, also_save=["ended_on"])
    return current
