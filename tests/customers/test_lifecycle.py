import datetime

import pytest
from django.core.exceptions import ValidationError

from core.errors import Conflict, RuleViolation
from customers import services
from customers.blockers import register_closure_check, unregister_closure_check
from customers.models import Customer
from tests.customers.factories import CustomerFactory

S = Customer.Status


@pytest.fixture
def customer(in_tenant):
    return CustomerFactory(tenant=in_tenant)


@pytest.fixture
def verified(customer):
    """The customer, KYC verified: ready to be activated."""
    return services.change_kyc_status(customer=customer, kyc_status="verified")


@pytest.fixture
def open_account_blocks():
    def check(customer):
        return [f"account ACC-1 of {customer.reference} is still open"]

    register_closure_check(check)
    yield
    unregister_closure_check(check)


@pytest.mark.parametrize(
    "path",
    [
        [S.ACTIVE],
        [S.ACTIVE, S.DORMANT, S.ACTIVE],
        [S.ACTIVE, S.BLOCKED, S.ACTIVE],
        [S.BLOCKED],
        [S.ACTIVE, S.DORMANT, S.CLOSED],
        [S.CLOSED],
    ],
)
def test_legal_transitions(verified, path):
    for status in path:
        services.change_status(customer=verified, status=status, by="user:test")
    verified.refresh_from_db()
    assert verified.status == path[-1]


@pytest.mark.parametrize(
    "path, refused",
    [
        ([], S.DORMANT),  # a prospect has never been active
        ([S.CLOSED], S.ACTIVE),  # closed is final
        ([S.BLOCKED], S.DORMANT),
        ([S.ACTIVE], S.PROSPECT),
    ],
)
def test_illegal_transitions_are_conflicts(verified, path, refused):
    for status in path:
        services.change_status(customer=verified, status=status)
    with pytest.raises(Conflict) as raised:
        services.change_status(customer=verified, status=refused)
    assert f"to {refused}" in str(raised.value)
    verified.refresh_from_db()
    assert verified.status == (path[-1] if path else S.PROSPECT)


@pytest.mark.parametrize("kyc", ["pending", "rejected", "expired"])
def test_activation_needs_verified_kyc(customer, kyc):
    for step in {"pending": [], "rejected": ["rejected"], "expired": ["verified", "expired"]}[kyc]:
        services.change_kyc_status(customer=customer, kyc_status=step)
    with pytest.raises(RuleViolation, match=f"its KYC is {kyc}, not verified"):
        services.change_status(customer=customer, status=S.ACTIVE)
    customer.refresh_from_db()
    assert customer.status == S.PROSPECT


def test_kyc_and_activation_in_one_update_apply_kyc_first(customer):
    updated = services.update_customer(
        customer=customer, changes={"status": "active", "kyc_status": "verified"}, by="user:x"
    )
    assert (updated.status, updated.kyc_status) == (S.ACTIVE, "verified")
    row = customer.history.latest()
    assert (row.status, row.kyc_status, row.actor) == (S.ACTIVE, "verified", "user:x")
    assert updated.updated_at == Customer.objects.get(pk=customer.pk).updated_at


def test_a_refused_activation_changes_nothing_of_the_same_update(customer):
    with pytest.raises(RuleViolation):
        services.update_customer(customer=customer, first_name="Zed", status="active")
    customer.refresh_from_db()
    assert customer.first_name != "Zed" and customer.status == S.PROSPECT


def test_kyc_change_records_who_and_when(customer):
    services.change_kyc_status(customer=customer, kyc_status="verified", by="user:officer")
    customer.refresh_from_db()
    assert customer.kyc_status == "verified"
    assert customer.kyc_changed_by == "user:officer"
    assert customer.kyc_changed_at is not None
    assert customer.history.latest().actor == "user:officer"


def test_illegal_kyc_change_is_refused(customer):
    with pytest.raises(Conflict, match="cannot go from pending to expired"):
        services.change_kyc_status(customer=customer, kyc_status="expired")
    customer.refresh_from_db()
    assert (customer.kyc_status, customer.kyc_changed_at) == ("pending", None)


def test_close_blocked_by_registered_check_names_the_blocker(verified, open_account_blocks):
    services.change_status(customer=verified, status=S.ACTIVE)
    with pytest.raises(Conflict, match=r"account ACC-1 .* is still open"):
        services.change_status(customer=verified, status=S.CLOSED)
    verified.refresh_from_db()
    assert verified.status == S.ACTIVE


def test_soft_delete_blocked_by_registered_check(customer, open_account_blocks):
    with pytest.raises(Conflict, match="Cannot delete"):
        services.soft_delete_customer(customer=customer)
    assert Customer.objects.filter(pk=customer.pk).exists()


def test_restore_refused_when_email_was_taken_meanwhile(in_tenant):
    old = CustomerFactory(tenant=in_tenant, email="x@example.com")
    services.soft_delete_customer(customer=old)
    CustomerFactory(tenant=in_tenant, email="x@example.com")
    with pytest.raises(Conflict, match=r"x@example\.com"):
        services.restore_customer(customer=old)
    assert Customer.deleted_objects.filter(pk=old.pk).exists()


def test_service_creates_and_updates_without_a_form(in_tenant):
    """A command, an import or another app calls the services with plain data."""
    customer = services.create_customer(
        type="individual",
        first_name=" Jane ",
        last_name="Doe",
        date_of_birth=datetime.date(1990, 5, 1),
        email="Jane@Example.com",
        phone="020 7946 0958",
        address_country="gb",
        by="system:import",
    )
    stored = Customer.objects.get(pk=customer.pk)
    assert (stored.reference, stored.first_name, stored.email) == (
        "CUS-000001",
        "Jane",
        "jane@example.com",
    )
    assert (stored.phone, stored.address_country, stored.risk_rating) == (
        "+442079460958",
        "GB",
        "low",
    )
    assert stored.history.latest().actor == "system:import"
    updated = services.update_customer(customer=stored, last_name="Smith", phone="+31612345678")
    assert (updated.last_name, updated.phone) == ("Smith", "+31612345678")


@pytest.mark.parametrize(
    "fields, field",
    [
        (
            {"type": "business", "legal_name": "Acme", "date_of_birth": datetime.date(2015, 1, 1)},
            "date_of_birth",
        ),
        ({"type": "business", "legal_name": "Acme", "first_name": "Jane"}, "first_name"),
        (
            {
                "type": "individual",
                "first_name": "J",
                "last_name": "D",
                "date_of_birth": datetime.date(1990, 1, 1),
                "legal_name": "Acme",
            },
            "legal_name",
        ),
        ({"type": "individual", "first_name": "J", "last_name": "D"}, "date_of_birth"),
        (
            {
                "type": "individual",
                "first_name": "\u200b",
                "last_name": "D",
                "date_of_birth": datetime.date(1990, 1, 1),
            },
            "first_name",
        ),
        ({"type": "business", "legal_name": "Acme", "address_country": "xx"}, "address_country"),
        ({"type": "business", "legal_name": "Acme", "email": "nope"}, "email"),
        ({"type": "partnership", "legal_name": "Acme"}, "type"),
    ],
)
def test_service_applies_the_rules_without_a_form(in_tenant, fields, field):
    with pytest.raises(ValidationError) as raised:
        services.create_customer(**fields)
    assert list(raised.value.message_dict) == [field]
    assert not Customer.all_objects.exists()


def test_a_business_has_no_birth_date_not_an_age(in_tenant):
    with pytest.raises(ValidationError) as raised:
        services.create_customer(
            type="business", legal_name="Acme", date_of_birth=datetime.date(2015, 1, 1)
        )
    assert raised.value.message_dict == {"date_of_birth": ["A business has no date of birth."]}


def test_service_refuses_unknown_fields(in_tenant):
    with pytest.raises(TypeError, match="surname"):
        services.create_customer(type="individual", surname="Doe")


def test_email_taken_concurrently_is_a_field_error_by_constraint_name(customer, monkeypatch):
    """The form's check passed, then another request took the email: the database refuses it
    (constraint `customer_live_email`) and the service names the field."""
    other = CustomerFactory(tenant=customer.tenant)
    monkeypatch.setattr("customers.rules.email_taken", lambda email, exclude_pk=None: False)
    with pytest.raises(ValidationError) as raised:
        services.update_customer(customer=customer, email=other.email)
    assert raised.value.message_dict == {
        "email": ["Another customer already has this email address."]
    }


def test_edit_read_before_a_block_does_not_undo_it(customer):
    """Only the fields changed are written, on the row as it is now."""
    stale = Customer.objects.get(pk=customer.pk)
    services.change_status(customer=customer, status=S.BLOCKED)
    services.update_customer(customer=stale, first_name="New")
    customer.refresh_from_db()
    assert (customer.first_name, customer.status) == ("New", S.BLOCKED)


def test_deleted_customer_cannot_be_edited(customer):
    services.soft_delete_customer(customer=customer)
    with pytest.raises(Conflict, match="restore it"):
        services.update_customer(customer=customer, first_name="New")
    assert Customer.all_objects.get(pk=customer.pk).first_name != "New"


def test_a_deleted_customers_status_and_kyc_do_not_change(customer):
    """What the admin's lifecycle buttons and actions call: refused as an edit is."""
    services.soft_delete_customer(customer=customer)
    with pytest.raises(Conflict, match="restore it"):
        services.change_status(customer=customer, status=S.BLOCKED)
    with pytest.raises(Conflict, match="restore it"):
        services.change_kyc_status(customer=customer, kyc_status="verified")
    stored = Customer.all_objects.get(pk=customer.pk)
    assert (stored.status, stored.kyc_status) == (customer.status, customer.kyc_status)


def test_closed_customer_record_is_final(customer):
    services.change_status(customer=customer, status=S.CLOSED)
    with pytest.raises(Conflict, match="closed"):
        services.update_customer(customer=customer, first_name="New")
    with pytest.raises(Conflict, match="closed"):
        services.change_kyc_status(customer=customer, kyc_status="verified")
    customer.refresh_from_db()
    assert customer.first_name != "New" and customer.kyc_status == "pending"


def test_no_change_writes_no_history_row(customer):
    rows = customer.history.count()
    services.update_customer(customer=customer, first_name=customer.first_name)
    assert customer.history.count() == rows


def test_admin_activate_action_refuses_unverified_kyc(staff_client, in_tenant):
    """The admin action calls the same service and rule: a message, not a 500 or a change."""
    pending = CustomerFactory(tenant=in_tenant)
    ready = services.change_kyc_status(
        customer=CustomerFactory(tenant=in_tenant), kyc_status="verified"
    )
    response = staff_client.post(
        "/admin/customers/customer/",
        {"action": "activate", "_selected_action": [pending.pk, ready.pk], "index": "0"},
        follow=True,
    )
    assert response.status_code == 200
    shown = [m.message for m in response.context["messages"]]
    assert any("its KYC is pending, not verified" in m for m in shown), shown
    pending.refresh_from_db()
    ready.refresh_from_db()
    assert (pending.status, ready.status) == (S.PROSPECT, S.ACTIVE)


@pytest.mark.parametrize(
    "fields, constraint",
    [
        (
            {"type": "business", "legal_name": "Acme", "first_name": "J"},
            "customer_business_no_person_fields",
        ),
        (
            {"type": "individual", "first_name": "J", "last_name": "D", "legal_name": "Acme"},
            "customer_individual_no_legal_name",
        ),
        (
            {
                "type": "individual",
                "first_name": "J",
                "last_name": "D",
                "email": "taken@example.com",
            },
            "customer_live_email",
        ),
    ],
)
def test_the_database_refuses_what_the_rules_refuse_and_names_the_constraint(
    in_tenant, fields, constraint
):
    """Code that bypasses the services still cannot store a customer the rules refuse; the
    violated constraint is read by name, on SQLite and PostgreSQL alike."""
    from django.db import IntegrityError, transaction

    from core.db.constraints import violated_constraint

    CustomerFactory(tenant=in_tenant, email="taken@example.com")
    with pytest.raises(IntegrityError) as raised, transaction.atomic():
        Customer.objects.create(tenant=in_tenant, reference="CUS-X", **fields)
    assert violated_constraint(raised.value, Customer) == constraint
