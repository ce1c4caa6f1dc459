import pytest

from core.errors import ConflictError
from customers import services
from customers.blockers import register_closure_check, unregister_closure_check
from customers.models import Customer
from tests.customers.factories import CustomerFactory

S = Customer.Status


@pytest.fixture
def customer(in_tenant):
    return CustomerFactory(tenant=in_tenant)


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
def test_legal_transitions(customer, path):
    for status in path:
        services.change_status(customer=customer, status=status, by="user:test")
    customer.refresh_from_db()
    assert customer.status == path[-1]


@pytest.mark.parametrize(
    "path, refused",
    [
        ([], S.DORMANT),  # a prospect has never been active
        ([S.CLOSED], S.ACTIVE),  # closed is final
        ([S.BLOCKED], S.DORMANT),
        ([S.ACTIVE], S.PROSPECT),
    ],
)
def test_illegal_transitions_are_409(customer, path, refused):
    for status in path:
        services.change_status(customer=customer, status=status)
    with pytest.raises(ConflictError) as raised:
        services.change_status(customer=customer, status=refused)
    assert raised.value.status == 409
    assert f"to {refused}" in str(raised.value)
    customer.refresh_from_db()
    assert customer.status == (path[-1] if path else S.PROSPECT)


def test_kyc_change_records_who_and_when(customer):
    services.change_kyc_status(customer=customer, kyc_status="verified", by="user:officer")
    customer.refresh_from_db()
    assert customer.kyc_status == "verified"
    assert customer.kyc_changed_by == "user:officer"
    assert customer.kyc_changed_at is not None
    assert customer.history.latest().actor == "user:officer"


def test_illegal_kyc_change_is_refused(customer):
    with pytest.raises(ConflictError):
        services.change_kyc_status(customer=customer, kyc_status="expired")


def test_close_blocked_by_registered_check_names_the_blocker(customer, open_account_blocks):
    services.change_status(customer=customer, status=S.ACTIVE)
    with pytest.raises(ConflictError, match=r"account ACC-1 .* is still open"):
        services.change_status(customer=customer, status=S.CLOSED)
    customer.refresh_from_db()
    assert customer.status == S.ACTIVE


def test_soft_delete_blocked_by_registered_check(customer, open_account_blocks):
    with pytest.raises(ConflictError, match="Cannot delete"):
        services.soft_delete_customer(customer=customer)
    assert Customer.objects.filter(pk=customer.pk).exists()


def test_restore_refused_when_email_was_taken_meanwhile(in_tenant):
    old = CustomerFactory(tenant=in_tenant, email="x@example.com")
    services.soft_delete_customer(customer=old)
    CustomerFactory(tenant=in_tenant, email="x@example.com")
    with pytest.raises(ConflictError, match=r"x@example\.com"):
        services.restore_customer(customer=old)


def test_edit_prepared_before_a_block_does_not_undo_it(customer):
    """A form read before a concurrent block/delete writes only the fields it changed."""
    from django.forms.models import model_to_dict

    from customers.forms import CustomerUpdateForm

    data = {**model_to_dict(customer, fields=CustomerUpdateForm.Meta.fields), "first_name": "New"}
    form = CustomerUpdateForm(data=data, instance=customer)
    assert form.is_valid(), form.errors
    services.change_status(customer=customer, status=S.BLOCKED)
    services.update_customer(form=form)
    customer.refresh_from_db()
    assert (customer.first_name, customer.status) == ("New", S.BLOCKED)


def test_deleted_customer_cannot_be_edited(customer):
    from django.forms.models import model_to_dict

    from customers.forms import CustomerUpdateForm

    data = {**model_to_dict(customer, fields=CustomerUpdateForm.Meta.fields), "first_name": "New"}
    form = CustomerUpdateForm(data=data, instance=customer)
    assert form.is_valid()
    services.soft_delete_customer(customer=customer)
    with pytest.raises(ConflictError, match="restore it"):
        services.update_customer(form=form)


def test_closed_customer_record_is_final(customer):
    from django.forms.models import model_to_dict

    from customers.forms import CustomerUpdateForm

    services.change_status(customer=customer, status=S.CLOSED)
    data = {**model_to_dict(customer, fields=CustomerUpdateForm.Meta.fields), "first_name": "New"}
    form = CustomerUpdateForm(data=data, instance=customer)
    assert form.is_valid()
    with pytest.raises(ConflictError, match="closed"):
        services.update_customer(form=form)
    with pytest.raises(ConflictError, match="closed"):
        services.change_kyc_status(customer=customer, kyc_status="verified")
