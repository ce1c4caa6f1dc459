import datetime
from decimal import Decimal

import factory

from core.references import next_reference
from customers.models import Customer, CustomerRelationship
from tests.factories import TenantFactory, TenantRowFactory


class CustomerFactory(TenantRowFactory):
    """An adult individual; `BusinessFactory` for companies. Pass `tenant=`."""

    class Meta:
        model = Customer

    tenant = factory.SubFactory(TenantFactory)
    reference = factory.LazyAttribute(
        lambda c: next_reference(tenant=c.tenant, prefix=Customer.REFERENCE_PREFIX)
    )
    type = Customer.Type.INDIVIDUAL
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    phone = factory.Sequence(lambda n: f"+4420794{n:05d}")
    date_of_birth = datetime.date(1985, 4, 12)
    address_country = "GB"


class BusinessFactory(CustomerFactory):
    type = Customer.Type.BUSINESS
    first_name = ""
    last_name = ""
    date_of_birth = None
    legal_name = factory.Faker("company")


class ShareholdingFactory(TenantRowFactory):
    """`related_customer` owns `ownership_percentage` % of `customer`."""

    class Meta:
        model = CustomerRelationship

    tenant = factory.SelfAttribute("customer.tenant")
    customer = factory.SubFactory(BusinessFactory)
    related_customer = factory.SubFactory(
        CustomerFactory, tenant=factory.SelfAttribute("..customer.tenant")
    )
    type = CustomerRelationship.Type.SHAREHOLDER
    ownership_percentage = Decimal("50")
