"""Every write of customers and their relationships. Forms validate input; these apply it."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from core.context import acting_as, actor_label, get_current_tenant
from core.errors import ConflictError
from core.references import next_reference
from customers.blockers import closure_blockers
from customers.models import Customer, CustomerRelationship
from customers.rules import check_relationship

# First key of the advisory lock taken while shareholdings change (the second is the tenant).
OWNERSHIP_LOCK_NAMESPACE = 7_201_001

Status = Customer.Status
KycStatus = Customer.KycStatus

# Where a customer may go from each status. Closed is final; blocked can be lifted.
STATUS_TRANSITIONS = {
    Status.PROSPECT: {Status.ACTIVE, Status.BLOCKED, Status.CLOSED},
    Status.ACTIVE: {Status.DORMANT, Status.BLOCKED, Status.CLOSED},
    Status.DORMANT: {Status.ACTIVE, Status.BLOCKED, Status.CLOSED},
    Status.BLOCKED: {Status.ACTIVE, Status.CLOSED},
    Status.CLOSED: set(),
}

LIFECYCLE_FIELDS = {"status", "kyc_status"}

KYC_TRANSITIONS = {
    KycStatus.PENDING: {KycStatus.VERIFIED, KycStatus.REJECTED},
    KycStatus.VERIFIED: {KycStatus.EXPIRED, KycStatus.REJECTED},
    KycStatus.REJECTED: {KycStatus.PENDING, KycStatus.VERIFIED},
    KycStatus.EXPIRED: {KycStatus.PENDING, KycStatus.VERIFIED, KycStatus.REJECTED},
}


def _locked(customer):
    return Customer.all_objects.select_for_update().get(pk=customer.pk)


def _save_unique(instance, **save_kwargs):
    """Save; a unique email taken concurrently becomes the form's field error."""
    try:
        with transaction.atomic():
            instance.save(**save_kwargs)
    except IntegrityError as error:
        if "email" in str(error).lower():
            raise ValidationError(
                {"email": "Another customer already has this email address."}
            ) from None
        raise


@transaction.atomic
def create_customer(*, form, by=None):
    """Create the customer a valid CustomerForm describes, with a fresh reference."""
    customer = form.save(commit=False)
    customer.tenant = customer.tenant if customer.tenant_id else get_current_tenant()
    customer.reference = next_reference(
        tenant=customer.tenant, prefix=Customer.REFERENCE_PREFIX, model=Customer
    )
    with acting_as(by):
        _save_unique(customer)
    return customer


@transaction.atomic
def update_customer(*, form, by=None):
    """Apply a valid CustomerForm / CustomerUpdateForm, lifecycle fields through their rules."""
    # Apply only the fields the form changed, to the row as it is now (locked): a concurrent
    # block, KYC change or delete must not be written back over with what the form read.
    current = _locked(form.instance)
    if current.is_deleted:
        raise ConflictError(f"{current.reference} is deleted; restore it before editing.")
    if current.status == Status.CLOSED:
        raise ConflictError(f"{current.reference} is closed; a closed customer's record is final.")
    changed = [name for name in form.changed_data if name not in LIFECYCLE_FIELDS]
    for name in changed:
        setattr(current, name, form.cleaned_data[name])
    if changed:  # no history row for a no-op
        with acting_as(by):
            _save_unique(current, update_fields=[*changed, "search_name", "updated_at"])
    status = form.cleaned_data.get("status")
    kyc_status = form.cleaned_data.get("kyc_status")
    if status and status != current.status:
        change_status(customer=current, status=status, by=by)
    if kyc_status and kyc_status != current.kyc_status:
        change_kyc_status(customer=current, kyc_status=kyc_status, by=by)
    return current


def _refuse_if_blocked(customer, doing):
    reasons = closure_blockers(customer)
    if reasons:
        raise ConflictError(f"Cannot {doing} {customer.reference}: " + "; ".join(reasons) + ".")


@transaction.atomic
def change_status(*, customer, status, by=None):
    current = _locked(customer)
    if status == current.status:
        return current
    if status not in STATUS_TRANSITIONS[current.status]:
        allowed = ", ".join(sorted(STATUS_TRANSITIONS[current.status])) or "none (closed is final)"
        raise ConflictError(
            f"{current.reference} cannot go from {current.status} to {status}. "
            f"Allowed from {current.status}: {allowed}."
        )
    if status == Status.CLOSED:
        _refuse_if_blocked(current, "close")
    current.status = status
    with acting_as(by):
        current.save(update_fields=["status", "updated_at"])
    customer.status = status
    return current


@transaction.atomic
def change_kyc_status(*, customer, kyc_status, by=None):
    current = _locked(customer)
    if kyc_status == current.kyc_status:
        return current
    if current.status == Status.CLOSED:
        raise ConflictError(f"{current.reference} is closed; its KYC status no longer changes.")
    if kyc_status not in KYC_TRANSITIONS[current.kyc_status]:
        raise ConflictError(
            f"KYC of {current.reference} cannot go from {current.kyc_status} to {kyc_status}."
        )
    current.kyc_status = kyc_status
    current.kyc_changed_at = timezone.now()
    current.kyc_changed_by = actor_label(by)
    with acting_as(by):
        current.save(update_fields=["kyc_status", "kyc_changed_at", "kyc_changed_by", "updated_at"])
    customer.kyc_status, customer.kyc_changed_at = current.kyc_status, current.kyc_changed_at
    customer.kyc_changed_by = current.kyc_changed_by
    return current


@transaction.atomic
def soft_delete_customer(*, customer, by=None):
    current = _locked(customer)
    if current.is_deleted:
        return current
    _refuse_if_blocked(current, "delete")
    # A deleted customer holds no roles and no one holds roles towards it any more: its
    # relationships end today (restoring the customer does not revive them).
    involved = CustomerRelationship.objects.filter(
        Q(customer=current) | Q(related_customer=current)
    )
    for relationship in involved:
        end_relationship(relationship=relationship, by=by)
    current.soft_delete(by=by)
    return current


@transaction.atomic
def restore_customer(*, customer, by=None):
    current = _locked(customer)
    if not current.is_deleted:
        return current
    if current.email and Customer.objects.filter(email=current.email).exists():
        raise ConflictError(
            f"Cannot restore {current.reference}: another live customer now uses "
            f"{current.email}. Change that customer's email first."
        )
    current.restore(by=by)
    return current


def _lock_company(company, relationship):
    """Lock what the relationship rules read: the ownership graph of the tenant (advisory lock,
    first, so that no two requests wait for each other's row locks), then the company row."""
    if relationship.type in CustomerRelationship.OWNERSHIP_TYPES:
        _serialise_ownership_changes(company.tenant_id)
    return _locked(company)


def _check_rules(company, relationship):
    check_relationship(
        customer=company,
        related=relationship.related_customer,
        role=relationship.type,
        percentage=relationship.ownership_percentage,
        started_on=relationship.started_on,
        ended_on=relationship.ended_on,
        exclude_pk=relationship.pk,
    )


def _serialise_ownership_changes(tenant_id):
    """Two shareholdings added at once (A owns B, B owns A) each pass the cycle check alone:
    on PostgreSQL, a per-tenant advisory lock makes them take turns until commit. SQLite
    serialises all writers anyway."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", [OWNERSHIP_LOCK_NAMESPACE, tenant_id]
            )


@transaction.atomic
def add_relationship(*, customer, relationship, by=None):
    """Add `relationship` (unsaved, from a valid RelationshipForm) to `customer`.

    The company row is locked first, then the rules are checked again, so two concurrent
    additions cannot together push direct ownership past 100 %.
    """
    company = _lock_company(customer, relationship)
    relationship.customer = company
    relationship.tenant_id = company.tenant_id
    _check_rules(company, relationship)
    with acting_as(by):
        relationship.save()
    return relationship


@transaction.atomic
def update_relationship(*, relationship, by=None):
    """Save edits to an existing relationship (unsaved changes on `relationship`), re-checked
    under the company's lock like an addition."""
    company = _lock_company(relationship.customer, relationship)
    _check_rules(company, relationship)
    with acting_as(by):
        relationship.save()
    return relationship


@transaction.atomic
def restore_relationship(*, relationship, by=None):
    """Undo a soft delete, if the relationship still fits the rules (it may be in force again
    when it had been cancelled before it started)."""
    current = CustomerRelationship.all_objects.select_for_update().get(pk=relationship.pk)
    if not current.is_deleted:
        return current
    for party in (current.customer, current.related_customer):
        if party.is_deleted:
            raise ConflictError(f"Cannot restore: {party.reference} is deleted.")
    _check_rules(_lock_company(current.customer, current), current)
    current.restore(by=by)
    return current


@transaction.atomic
def end_relationship(*, relationship, by=None, on=None):
    """End a relationship: it gets an end date (today unless given) and is soft-deleted."""
    current = CustomerRelationship.all_objects.select_for_update().get(pk=relationship.pk)
    if current.is_deleted:
        raise ConflictError("This relationship has already ended.")
    on = on or timezone.localdate()
    if current.started_on and on < current.started_on:
        current.soft_delete(by=by)  # never started: cancelled, with no end date to record
    else:
        current.ended_on = min(current.ended_on or on, on)
        current.soft_delete(by=by, also_save=["ended_on"])
    return current
