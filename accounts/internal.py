"""The tenant's internal ledger accounts: settlement (cash), loan portfolio, income, expense and
suspense, one of each per currency, the other side of every customer money movement.

They are created with the tenant (for its default currency, `AccountsConfig.ready()` connects
the hook), for existing tenants by migration 0003, and on first use for another currency.
Their ids never change, so each process remembers them: a deposit then locks the settlement
account by id without looking it up first.
"""

from django.db import IntegrityError, transaction

from accounts.models import Account, AccountBalance, InternalCode
from accounts.numbers import internal_account_number
from core.context import get_current_tenant, tenant_context
from core.history import HistoryAction, history_context

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


@transaction.atomic
def create_internal_accounts(tenant, currency):
    """Every internal account of `tenant` in `currency` that does not exist yet, in a few
    statements whatever their number. They are part of the tenant's set-up: each gets its
    creation history row (who, from where), but no audit event of its own."""
    with tenant_context(tenant):
        existing = set(
            Account.all_objects.filter(currency=currency)
            .exclude(internal_code="")
            .values_list("internal_code", flat=True)
        )
        accounts = [
            Account(
                tenant=tenant,
                reference=internal_reference(code, currency),
                account_number=internal_account_number(index, currency),
                internal_code=code,
                name=f"{NAMES[code]} {currency}",
                currency=currency,
            )
            for index, code in enumerate(InternalCode.values, start=1)
            if code not in existing
        ]
        if not accounts:
            return
        Account.objects.bulk_create(accounts)
        AccountBalance.objects.bulk_create(
            AccountBalance(account=account, tenant=tenant) for account in accounts
        )
        Account.history.bulk_history_create(
            accounts,
            custom_historical_attrs={**history_context(), "action": HistoryAction.CREATE},
        )
        for account in accounts:
            _ids[(tenant.pk, account.internal_code, currency)] = account.pk


def internal_account(*, code, currency):
    """The current tenant's internal account `code` in `currency`; the first use of a
    currency creates the tenant's whole set in it."""
    InternalCode(code)  # ValueError for an unknown code
    accounts = Account.all_objects.filter(internal_code=code, currency=currency)
    account = accounts.first()
    if account is not None:
        return account
    try:
        with transaction.atomic():
            create_internal_accounts(get_current_tenant(), currency)
    except IntegrityError:
        pass  # created meanwhile by a concurrent transaction
    return accounts.get()


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
