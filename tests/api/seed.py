"""Objects the fuzzer can find: each domain adds a few rows of `tenant` here.

Returns the path parameters worth substituting into generated requests, by name.
"""

from decimal import Decimal

from accounts import services as account_services
from core.context import tenant_context
from customers.models import Customer
from tests.accounts.factories import funded_account
from tests.customers.factories import BusinessFactory, CustomerFactory, ShareholdingFactory


def seed(tenant):
    with tenant_context(tenant):
        person = CustomerFactory(tenant=tenant)
        company = BusinessFactory(tenant=tenant)
        holding = BusinessFactory(tenant=tenant)
        ShareholdingFactory(customer=holding, related_customer=person, ownership_percentage=60)
        relationship = ShareholdingFactory(
            customer=company, related_customer=holding, ownership_percentage=75
        )
        # Created outside the history machinery: no history row, no audit event.
        (bare,) = Customer.objects.bulk_create(
            [Customer(tenant=tenant, reference="CUS-BULK01", type="business", legal_name="Bulk")]
        )
    account = funded_account(tenant, "500.00")
    frozen = funded_account(tenant, "20.00")
    with tenant_context(tenant):
        hold = account_services.place_hold(account=account, amount=Decimal("5.00"), reason="seed")
        account_services.freeze_account(account=frozen)
    return {
        "ref": [
            person.reference,
            company.reference,
            holding.reference,
            bare.reference,
            account.reference,
            frozen.reference,
        ],
        "relationship_id": [relationship.pk],
        "hold_id": [str(hold.public_id)],
    }
