"""Accounts for tests. Balances only ever come from postings: fund an account with
`accounts.services.deposit` (or `funded_account`), never by writing its balance row."""

from decimal import Decimal

import factory

from accounts.models import Account, AccountBalance
from accounts.numbers import take_account_numbers
from core.context import tenant_context
from core.references import next_reference
from customers.models import Customer
from tests.customers.factories import CustomerFactory
from tests.factories import TenantFactory, TenantRowFactory


class ActiveCustomerFactory(CustomerFactory):
    """A customer who may open accounts: active, KYC verified."""

    status = Customer.Status.ACTIVE
    kyc_status = Customer.KycStatus.VERIFIED


class AccountFactory(TenantRowFactory):
    """An active current account of an active, verified customer, with its (zero) balance
    row. Pass `tenant=`."""

    class Meta:
        model = Account
        skip_postgeneration_save = True

    tenant = factory.SubFactory(TenantFactory)
    customer = factory.SubFactory(ActiveCustomerFactory, tenant=factory.SelfAttribute("..tenant"))
    reference = factory.LazyAttribute(
        lambda a: next_reference(tenant=a.tenant, prefix=Account.REFERENCE_PREFIX, model=Account)
    )
    account_number = factory.LazyAttribute(lambda a: take_account_numbers(a.tenant.pk)[0])
    product = Account.Product.CURRENT
    currency = factory.LazyAttribute(lambda a: a.tenant.default_currency)

    @factory.post_generation
    def balance_row(obj, create, extracted, **kwargs):
        if create:
            AccountBalance.objects.create(account=obj, tenant=obj.tenant)


def funded_account(tenant, amount, **fields):
    """An account holding `amount`, deposited through the service (so it reconciles)."""
    from accounts.services import deposit

    account = AccountFactory(tenant=tenant, **fields)
    if amount:
        with tenant_context(tenant):
            deposit(account=account, amount=Decimal(amount), description="opening funds")
    return account
