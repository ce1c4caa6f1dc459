"""Every change of a customer leaves a history row with the right action and actor."""

from customers import services
from customers.forms import CustomerForm
from tests.customers.test_validation import individual


def test_create_update_soft_delete_restore_each_leave_a_row(in_tenant, django_user_model):
    clerk = django_user_model.objects.create_user("clerk", password="x-very-long-password")
    form = _valid(CustomerForm(data=individual()))
    customer = services.create_customer(**form.changes(), by=clerk)
    services.update_customer(customer=customer, first_name="Janet", by="partner_key:abcd1234")
    services.soft_delete_customer(customer=customer, by="system:cleanup")
    services.restore_customer(customer=customer, by=clerk)
    rows = list(customer.history.order_by("history_id").values_list("action", "actor"))
    assert rows == [
        ("create", "user:clerk"),
        ("update", "partner_key:abcd1234"),
        ("soft_delete", "system:cleanup"),
        ("restore", "user:clerk"),
    ]
    assert customer.history.earliest().history_user == clerk


def _valid(form):
    assert form.is_valid(), form.errors
    return form
