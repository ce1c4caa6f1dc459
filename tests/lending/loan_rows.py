"""Loans written directly as rows, in exactly the state a test needs (installments overdue,
part paid, paid), for close of day and reports: what the lifecycle services write, without
going through them."""

from datetime import date
from decimal import Decimal

from accounts.services import deposit
from core.context import system_scope, tenant_context
from core.references import next_reference
from lending.models import Installment, Loan, LoanProduct
from tests.accounts.factories import AccountFactory

START = date(2025, 12, 1)


def loan_product(tenant, *, currency="EUR", name="Personal", **penalty):
    """A product; `penalty` sets its penalty fields (`penalty_type="flat"`, ...)."""
    with system_scope():
        return LoanProduct.objects.create(
            tenant=tenant,
            reference=next_reference(tenant=tenant, prefix=LoanProduct.REFERENCE_PREFIX),
            name=name,
            currency=currency,
            min_principal=Decimal("0.01"),
            max_principal=Decimal("1000000"),
            min_interest_rate=Decimal(0),
            max_interest_rate=Decimal(50),
            min_installments=1,
            max_installments=360,
            **penalty,
        )


def active_loan(
    product,
    *,
    dues,
    principal="100.00",
    interest="10.00",
    paid=0,
    partly_paid=None,
    status=Loan.Status.ACTIVE,
    disbursed_on=START,
):
    """A loan of `product` with one installment per date of `dues`, each of `principal` and
    `interest`; the first `paid` installments are paid, and the next has `partly_paid` of it
    paid (interest first)."""
    tenant = product.tenant
    account = AccountFactory(tenant=tenant, currency=product.currency)
    with tenant_context(tenant):
        journal = deposit(
            account=account, amount=Decimal(1), description="stands for the disbursement"
        ).journal
    principal, interest = Decimal(principal), Decimal(interest)
    with system_scope():
        loan = Loan.objects.create(
            tenant=tenant,
            reference=next_reference(tenant=tenant, prefix=Loan.REFERENCE_PREFIX),
            customer=account.customer,
            product=product,
            account=account,
            currency=product.currency,
            principal=principal * len(dues),
            annual_interest_rate=Decimal(12),
            number_of_installments=len(dues),
            repayment_frequency="monthly",
            interest_method="declining_balance",
            amortization="equal_installments",
            day_count="actual/365",
            start_date=disbursed_on,
            status=status,
            submitted_on=disbursed_on,
            approved_on=disbursed_on,
            disbursed_on=disbursed_on,
            maturity_date=dues[-1],
            disbursement_journal=journal,
        )
        rows = []
        for number, due in enumerate(dues, start=1):
            row = Installment(
                tenant=tenant,
                loan=loan,
                number=number,
                due_date=due,
                principal=principal,
                interest=interest,
            )
            if number <= paid:
                row.principal_paid, row.interest_paid = principal, interest
                row.status, row.paid_on = Installment.Status.PAID, due
            elif number == paid + 1 and partly_paid:
                row.interest_paid = min(partly_paid, interest)
                row.principal_paid = partly_paid - row.interest_paid
                row.status = Installment.Status.PARTIALLY_PAID
            rows.append(row)
        Installment.objects.bulk_create(rows)
    return loan
