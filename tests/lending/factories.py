"""Loan products and loans for tests, made through the services (so that journals, schedules
and history are what production leaves): `make_product`, then `make_loan(status=...)` for a
loan in any status. Pass the tenant; run inside `tenant_context(tenant)` or not, as you like."""

import datetime
from decimal import Decimal

from accounts.services import deposit
from core.context import tenant_context
from lending import services
from lending.selectors import payoff
from tests.accounts.factories import funded_account

PRODUCT = {
    "name": "Personal loan",
    "min_principal": Decimal("100.00"),
    "max_principal": Decimal("50000.00"),
    "min_interest_rate": Decimal("0"),
    "max_interest_rate": Decimal("30"),
    "min_installments": 1,
    "max_installments": 360,
    "repayment_frequencies": ["monthly", "biweekly", "weekly"],
    "day_count": "30/360",
}

# Actor labels: who applies, and someone else who decides (four-eyes).
CLERK = "user:clerk"
APPROVER = "user:approver"


def make_product(tenant, **fields):
    with tenant_context(tenant):
        return services.create_product(
            **{"currency": tenant.default_currency, **PRODUCT, **fields}, by=CLERK
        )


def make_loan(
    tenant,
    *,
    status="pending_approval",
    product=None,
    account=None,
    principal="1200.00",
    rate="12",
    installments=12,
    frequency="monthly",
    start=None,
    funds="0",
):
    """A loan of `tenant` in `status`, made by the services: applied by CLERK, decided by
    APPROVER, disbursed on `start` (default: 13 months ago, so every installment of a
    12-month loan has fallen due), closed by paying it off, written off as it is."""
    product = product or make_product(tenant)
    account = account or funded_account(tenant, funds, currency=product.currency)
    start = start or datetime.date.today() - datetime.timedelta(days=400)
    with tenant_context(tenant):
        loan = services.apply_for_loan(
            customer=account.customer,
            product=product,
            account=account,
            principal=Decimal(principal),
            annual_interest_rate=Decimal(rate),
            number_of_installments=installments,
            repayment_frequency=frequency,
            start_date=start,
            by=CLERK,
        )
        if status == "pending_approval":
            return loan
        if status == "rejected":
            return services.reject_loan(loan=loan, reason="income too low", by=APPROVER)
        if status == "withdrawn":
            return services.withdraw_loan(loan=loan, by=CLERK)
        loan = services.approve_loan(loan=loan, by=APPROVER)
        if status == "approved":
            return loan
        loan = services.disburse_loan(loan=loan, on=start, by=CLERK)
        if status == "active":
            return loan
        if status == "written_off":
            return services.write_off_loan(loan=loan, by=APPROVER)
        if status == "closed":
            total = payoff(loan)["total"]
            deposit(account=account, amount=total, description="funds to pay off")
            services.repay_loan(loan=loan, amount=total, by=CLERK)
            loan.refresh_from_db()
            return loan
    raise ValueError(f"no such status: {status}")
