from django.core.management import call_command

from core.context import system_scope, tenant_context
from core.models import StaffMembership, Tenant
from customers.forms import CustomerForm
from customers.models import Customer, CustomerRelationship
from customers.ownership import beneficial_owners
from customers.services import create_customer


def test_demo_loads_twice_and_shows_isolation_and_a_real_ubo(db):
    call_command("loaddata", "demo", verbosity=0)
    call_command("loaddata", "demo", verbosity=0)  # idempotent: operators may re-run it
    with system_scope():
        harbour, northwind = (
            Tenant.objects.get(slug="harbour"),
            Tenant.objects.get(slug="northwind"),
        )
        assert StaffMembership.objects.count() == 2
    with tenant_context(harbour):
        assert Customer.objects.count() == 8
        owners = beneficial_owners(company=Customer.objects.get(reference="CUS-000007"))
        assert [(o.customer.reference, str(o.effective_ownership)) for o in owners] == [
            ("CUS-000001", "40"),
            ("CUS-000002", "25"),
        ]
        assert len(owners[0].paths) == 2  # the diamond
        form = CustomerForm(data={"type": "business", "legal_name": "New Co"})
        assert form.is_valid(), form.errors
        assert create_customer(**form.changes()).reference == "CUS-000009"  # after the fixture's
    with tenant_context(northwind):
        assert Customer.objects.count() == 4
        assert CustomerRelationship.objects.count() == 3
