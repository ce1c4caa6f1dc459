"""Objects the fuzzer can find: each domain adds a few rows of `tenant` here.

Returns the path parameters worth substituting into generated requests, by name.
"""

import datetime
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
            f"SETTLEMENT-{account.currency}",  # the bank's own: never a partner's (404)
            *seed_loans(tenant),
        ],
        "relationship_id": [relationship.number],  # the API's id: the per-tenant number
        "hold_id": [str(hold.public_id)],
    }


def seed_loans(tenant):
    """A loan pending approval and an active one with collateral; their references."""
    from lending import services
    from tests.accounts.factories import funded_account
    from tests.lending.test_api import PRODUCT

    account = funded_account(tenant, "100.00", currency="EUR")
    with tenant_context(tenant):
        product = services.create_product(**PRODUCT)
        terms = {
            "customer": account.customer,
            "product": product,
            "account": account,
            "principal": Decimal("5000.00"),
            "annual_interest_rate": Decimal("10"),
            "number_of_installments": 6,
            "repayment_frequency": "monthly",
        }
        pending = services.apply_for_loan(**terms, by="seed:applicant")
        active = services.apply_for_loan(**terms, by="seed:applicant")
        services.approve_loan(loan=active, by="seed:approver")
        services.disburse_loan(loan=active)
        services.add_collateral(
            loan=active,
            type="vehicle",
            description="Van",
            value=Decimal("4000.00"),
            currency="EUR",
            valuation_date=datetime.date(2026, 1, 10),
        )
    return [pending.reference, active.reference]
