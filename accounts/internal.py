"""The tenant's internal ledger accounts: settlement (cash), loan portfolio, income, expense and
suspense, one of each per currency, the other side of every customer money movement.

They are created with the tenant (for its default currency, `AccountsConfig.ready()` connects
the hook), for existing tenants by migration 0003, and on first use for another currency.
Their ids never change, so each process remembers them: a deposit then locks the settlement
account by id without looking it up first.
"""

from django.db import IntegrityError, transaction

from accounts.models import Account, AccountBalance, InternalCode
from accounts.numbers import take_account_numbers
from core.context import get_current_tenant, tenant_context

NAMES = {
    InternalCode.SETTLEMENT: "Settlement (cash)",
    InternalCode.LOAN_PORTFOLIO: "Loan portfolio",
    InternalCode.INTEREST_INCOME: "Interest income",
    InternalCode.FEE_INCOME: "Fee income",
    InternalCode.PENALTY_INCOME: "Penalty income",
    InternalCode.WRITE_OFF_EXPENSE: "Write-off expense",
    InternalCode.SUSPENSE: "Suspense",
}

# (tenant id, code, currency) -> account id, for this process.
_ids = {}


def internal_reference(code, currency):
    """SETTLEMENT-EUR, LOAN-PORTFOLIO-EUR."""
    return f"{code.upper().replace('_', '-')}-{currency}"


def _new(tenant, code, currency, number):
    return Account(
        tenant=tenant,
        reference=internal_reference(code, currency),
        account_number=number,
        internal_code=code,
        name=f"{NAMES[code]} {currency}",
        currency=currency,
    )


def _save_with_balance(account):
    account.save()
    AccountBalance.objects.create(account=account, tenant=account.tenant)
    _ids[(account.tenant_id, account.internal_code, account.currency)] = account.pk
    return account


@transaction.atomic
def create_internal_accounts(tenant, currency):
    """Every internal account of `tenant` in `currency` that does not exist yet."""
    with tenant_context(tenant):
        existing = set(
            Account.all_objects.filter(currency=currency)
            .exclude(internal_code="")
            .values_list("internal_code", flat=True)
        )
        missing = [code for code in InternalCode.values if code not in existing]
        numbers = take_account_numbers(tenant.pk, len(missing)) if missing else []
        for code, number in zip(missing, numbers, strict=True):
            _save_with_balance(_new(tenant, code, currency, number))


def internal_account(*, code, currency):
    """The current tenant's internal account `code` in `currency`, created on first use."""
    InternalCode(code)  # ValueError for an unknown code
    account = Account.all_objects.filter(internal_code=code, currency=currency).first()
    if account is not None:
        return account
    tenant = get_current_tenant()
    try:
        with transaction.atomic():
            (number,) = take_account_numbers(tenant.pk)
            return _save_with_balance(_new(tenant, code, currency, number))
    except IntegrityError:  # created meanwhile by a concurrent transaction
        return Account.all_objects.get(internal_code=code, currency=currency)


def internal_account_id(*, tenant_id, code, currency):
    """`internal_account(...).pk`, remembered by the process (callers verify what they lock
    against `code` and `currency` and call `forget` on a mismatch: a restored database)."""
    key = (tenant_id, code, currency)
    if key not in _ids:
        _ids[key] = internal_account(code=code, currency=currency).pk
    return _ids[key]


def forget(*, tenant_id, code, currency):
    _ids.pop((tenant_id, code, currency), None)


def create_for_new_tenant(sender, instance, created, raw=False, **kwargs):
    """post_save of core.Tenant: a new tenant gets its internal accounts in its currency
    (fixtures, loaded raw, bring their own)."""
    if created and not raw:
        create_internal_accounts(instance, instance.default_currency)
