"""The loan lifecycle through the services: every legal and illegal step, the four-eyes rule,
the product's limits, the journals each movement leaves on the ledger, what an open loan
blocks, and the audit trail."""

import datetime
import io
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from accounts import services as account_services
from accounts.models import Account, AccountBalance, Journal
from accounts.selectors import statement
from audit.models import AuditEvent
from core.context import system_scope, tenant_context
from core.errors import Conflict, Forbidden, RuleViolation
from core.services import issue_partner_key
from customers import services as customer_services
from lending import selectors, services
from lending.models import Collateral, Loan
from lending.rules import TermsViolation
from tests.accounts.factories import funded_account
from tests.customers.factories import CustomerFactory
from tests.lending.factories import APPROVER, CLERK, make_loan, make_product

D = Decimal
START = datetime.date(2026, 1, 15)

STEPS = {
    "approve": lambda loan: services.approve_loan(loan=loan, by=APPROVER),
    "reject": lambda loan: services.reject_loan(loan=loan, by=APPROVER),
    "withdraw": lambda loan: services.withdraw_loan(loan=loan, by=CLERK),
    "disburse": lambda loan: services.disburse_loan(loan=loan, on=START, by=CLERK),
    "repay": lambda loan: services.repay_loan(loan=loan, amount="10.00", by=CLERK),
    "write off": lambda loan: services.write_off_loan(loan=loan, by=APPROVER),
}
LEGAL = {
    "pending_approval": {
        "approve": "approved",
        "reject": "rejected",
        "withdraw": "withdrawn",
    },
    "approved": {"withdraw": "withdrawn", "disburse": "active"},
    "active": {"repay": "active", "write off": "written_off"},
    "rejected": {},
    "withdrawn": {},
    "closed": {},
    "written_off": {},
}


def balance(account):
    return AccountBalance.objects.get(account=account).balance


def internal(code, currency="EUR"):
    return Account.objects.get(internal_code=code, currency=currency)


@pytest.mark.parametrize("status", LEGAL)
def test_every_step_from_every_status(tenant, status):
    """The legal steps take the loan where they should; every other step is a Conflict that
    changes nothing."""
    for step in STEPS:
        loan = make_loan(tenant, status=status, start=START, funds="100.00")
        with tenant_context(tenant):
            if step in LEGAL[status]:
                STEPS[step](loan)
                assert Loan.objects.get(pk=loan.pk).status == LEGAL[status][step], step
            else:
                with pytest.raises(Conflict, match=f"is {status}; it cannot {step}"):
                    STEPS[step](loan)
                assert Loan.objects.get(pk=loan.pk).status == status


def test_the_submitter_never_decides_its_own_application(tenant):
    loan = make_loan(tenant)
    with tenant_context(tenant):
        for decide in (services.approve_loan, services.reject_loan):
            with pytest.raises(Forbidden, match="Four-eyes"):
                decide(loan=loan, by=CLERK)
        assert Loan.objects.get(pk=loan.pk).status == "pending_approval"


def test_the_same_partner_key_cannot_apply_and_approve(tenant):
    with system_scope():
        key, _ = issue_partner_key(tenant=tenant, name="Broker", scopes=["*"])
        other, _ = issue_partner_key(tenant=tenant, name="Risk desk", scopes=["*"])
    product = make_product(tenant)
    account = funded_account(tenant, "0")
    with tenant_context(tenant):
        loan = services.apply_for_loan(
            customer=account.customer,
            product=product,
            account=account,
            principal="1000.00",
            annual_interest_rate="10",
            number_of_installments=10,
            repayment_frequency="monthly",
            by=key,
        )
        assert loan.submitted_by == f"partner_key:{key.prefix}"
        with pytest.raises(Forbidden):
            services.approve_loan(loan=loan, by=key)
        approved = services.approve_loan(loan=loan, by=other)
        assert (approved.status, approved.approved_by) == (
            "approved",
            f"partner_key:{other.prefix}",
        )


@pytest.mark.parametrize(
    ("terms", "field", "words"),
    [
        ({"principal": "99.99"}, "principal", "below the product's minimum of 100.00 EUR"),
        ({"principal": "50000.01"}, "principal", "above the product's maximum"),
        ({"annual_interest_rate": "30.5"}, "annual_interest_rate", "maximum of 30 %"),
        ({"number_of_installments": 361}, "number_of_installments", "maximum of 360"),
        ({"repayment_frequency": "daily"}, "repayment_frequency", "not offered"),
    ],
)
def test_terms_outside_the_products_limits_name_the_limit(tenant, terms, field, words):
    product = make_product(tenant)
    account = funded_account(tenant, "0")
    fields = {
        "principal": "1000.00",
        "annual_interest_rate": "10",
        "number_of_installments": 12,
        "repayment_frequency": "monthly",
        **terms,
    }
    with tenant_context(tenant), pytest.raises(TermsViolation, match=words) as refused:
        services.apply_for_loan(
            customer=account.customer, product=product, account=account, by=CLERK, **fields
        )
    assert refused.value.field == field


def test_only_an_active_verified_customer_borrows_into_its_own_account(tenant):
    product = make_product(tenant)
    account = funded_account(tenant, "0")
    stranger = funded_account(tenant, "0")
    prospect = CustomerFactory(tenant=tenant)
    terms = {
        "product": product,
        "principal": "1000.00",
        "annual_interest_rate": "10",
        "number_of_installments": 12,
        "repayment_frequency": "monthly",
    }
    with tenant_context(tenant):
        with pytest.raises(TermsViolation, match="does not belong") as refused:
            services.apply_for_loan(customer=account.customer, account=stranger, **terms)
        assert refused.value.field == "account"
        with pytest.raises(RuleViolation, match="not active"):
            services.apply_for_loan(customer=prospect, account=account, **terms)
        usd = funded_account(tenant, "0", currency="USD", customer=account.customer)
        with pytest.raises(TermsViolation, match="holds USD"):
            services.apply_for_loan(customer=account.customer, account=usd, **terms)


def test_disbursement_and_fee_are_balanced_journals_on_the_account_statement(tenant):
    product = make_product(tenant, origination_fee_type="percent", origination_fee=D("1.5"))
    loan = make_loan(tenant, status="approved", product=product, start=START)
    with tenant_context(tenant):
        loan = services.disburse_loan(loan=loan, on=START, idempotency_key="d-1", by=CLERK)
        account = loan.account
        assert balance(account) == D("1200.00") - D("18.00")
        assert balance(internal("loan_portfolio")) == D("-1200.00")
        assert balance(internal("fee_income")) == D("18.00")
        for journal in (loan.disbursement_journal, loan.fee_journal):
            assert sum(p.amount for p in journal.postings.all()) == 0
        kinds = [p.kind for p in statement(account)]
        assert kinds == ["fee", "loan_disbursement"]
        installments = list(selectors.schedule_of(loan))
        assert len(installments) == 12 and sum(i.principal for i in installments) == D("1200")
        assert (loan.disbursed_on, loan.maturity_date) == (START, datetime.date(2027, 1, 15))
        # A retry with the same key is the same disbursement; nothing more is posted.
        again = services.disburse_loan(loan=loan, on=START, idempotency_key="d-1", by=CLERK)
        assert again.disbursement_journal_id == loan.disbursement_journal_id
        assert Journal.objects.filter(kind="loan_disbursement").count() == 1


def test_a_lifecycle_leaves_a_ledger_that_reconciles(tenant):
    loan = make_loan(tenant, status="active", start=START, funds="500.00")
    with tenant_context(tenant):
        repayment = services.repay_loan(
            loan=loan, amount="150.00", received_on=START.replace(month=3)
        )
        journal = repayment.journal
        lines = {p.account.internal_code: p.amount for p in journal.postings.all()}
        assert lines[""] == D("-150.00") and sum(lines.values()) == 0
        assert lines["loan_portfolio"] == repayment.principal
        assert lines["interest_income"] == repayment.interest
        assert statement(loan.account).first().kind == "loan_repayment"
        services.reverse_repayment(repayment=repayment, by=APPROVER)
        services.repay_loan(loan=loan, amount="106.62", idempotency_key="r-1")
        services.write_off_loan(loan=loan, by=APPROVER)
        assert Loan.objects.get(pk=loan.pk).write_off_journal.kind == "write_off"
    out, err = io.StringIO(), io.StringIO()
    call_command("reconcile_ledger", "--no-progress", stdout=out, stderr=err)
    assert not err.getvalue(), err.getvalue()


def test_a_repayment_retried_with_its_key_is_made_once(tenant):
    loan = make_loan(tenant, status="active", start=START, funds="500.00")
    with tenant_context(tenant):
        first = services.repay_loan(loan=loan, amount="50.00", idempotency_key="pay-1")
        again = services.repay_loan(loan=loan, amount="50.00", idempotency_key="pay-1")
        assert again.pk == first.pk and balance(loan.account) == D("1650.00")
        with pytest.raises(Conflict, match="already used"):
            services.repay_loan(loan=loan, amount="60.00", idempotency_key="pay-1")


def test_a_repayment_is_dated_between_the_last_one_and_today(tenant):
    loan = make_loan(tenant, status="active", start=START, funds="500.00")
    with tenant_context(tenant):
        services.repay_loan(loan=loan, amount="10.00", received_on=datetime.date(2026, 5, 1))
        for day in (datetime.date(2026, 4, 30), datetime.date.today() + datetime.timedelta(1)):
            with pytest.raises(ValidationError) as refused:
                services.repay_loan(loan=loan, amount="10.00", received_on=day)
            assert "received_on" in refused.value.message_dict


def test_an_open_loan_blocks_closing_its_account_and_its_customer(tenant):
    loan = make_loan(tenant, status="active", start=START)
    with tenant_context(tenant):
        account = Account.objects.get(pk=loan.account_id)
        account_services.withdraw(account=account, amount="1200.00")
        with pytest.raises(Conflict, match=f"loan {loan.reference} is active"):
            account_services.close_account(account=account)
        customer = loan.customer
        with pytest.raises(Conflict, match=f"loan {loan.reference} is active"):
            customer_services.soft_delete_customer(customer=customer)
        with pytest.raises(Conflict, match=f"loan {loan.reference}"):
            customer_services.change_status(customer=customer, status="closed")
        services.write_off_loan(loan=loan, by=APPROVER)
        account_services.close_account(account=account)
        assert Account.all_objects.get(pk=account.pk).status == "closed"


def test_decisions_and_movements_are_audit_events(tenant):
    loan = make_loan(tenant, status="active", start=START, funds="100.00")
    with tenant_context(tenant):
        services.repay_loan(loan=loan, amount="20.00", by=CLERK)
        events = AuditEvent.objects.filter(
            resource_type="lending.loan", resource_id=loan.reference
        ).order_by("id")
        actions = [(e.action, e.actor) for e in events]
    assert ("create", CLERK) in actions
    assert ("loan_approve", APPROVER) in actions
    assert ("loan_disburse", CLERK) in actions
    assert ("loan_repayment", CLERK) in actions
    decision = next(e for e in events if e.action == "loan_approve")
    assert decision.changes["status"] == ["pending_approval", "approved"]
    assert f"customers.customer:{loan.customer.reference}" in decision.related


def test_collateral_gives_the_loan_to_value(tenant):
    loan = make_loan(tenant, status="active", start=START)
    guarantor = CustomerFactory(tenant=tenant)
    with tenant_context(tenant):
        services.add_collateral(
            loan=loan,
            type="vehicle",
            description="Van",
            value="1000.00",
            currency="EUR",
            valuation_date=START,
        )
        services.add_collateral(
            loan=loan,
            type="guarantee",
            description="Parent",
            value="500.00",
            currency="EUR",
            valuation_date=START,
            guarantor=guarantor,
        )
        with pytest.raises(ValidationError) as refused:
            services.add_collateral(
                loan=loan,
                type="guarantee",
                description="Nobody",
                value="1.00",
                currency="EUR",
                valuation_date=START,
            )
        assert "guarantor" in refused.value.message_dict
        assert selectors.loan_to_value(selectors.get_loan(loan.reference)) == D("0.8")


@pytest.mark.parametrize("status", ["pending_approval", "approved"])
def test_an_undisbursed_loan_read_with_its_outstanding_takes_the_principal(tenant, status):
    # get_loan annotates an outstanding principal of 0 (no installments yet): the status
    # decides, not the annotation.
    loan = make_loan(tenant, status=status, start=START)
    with tenant_context(tenant):
        services.add_collateral(
            loan=loan,
            type="vehicle",
            description="Van",
            value="1500.00",
            currency="EUR",
            valuation_date=START,
        )
        read = selectors.get_loan(loan.reference)
        assert read.outstanding_principal == 0
        assert selectors.loan_to_value(read) == D("0.8")


@pytest.mark.parametrize("status", ["rejected", "withdrawn"])
def test_an_application_that_ended_has_no_loan_to_value(tenant, status):
    """It will never lend anything: not "0", which would read as fully covered."""
    loan = make_loan(tenant, status=status, start=START)
    with tenant_context(tenant):
        # Pledged while it was pending (the services take no collateral for an ended loan).
        Collateral.objects.create(
            tenant=tenant,
            loan=loan,
            type="vehicle",
            description="Van",
            value=D("1500.00"),
            currency="EUR",
            valuation_date=START,
        )
        assert selectors.loan_to_value(selectors.get_loan(loan.reference)) is None


def test_a_loan_list_costs_one_query(tenant, django_assert_num_queries):
    for _ in range(3):
        make_loan(tenant, status="active", start=START)
    with tenant_context(tenant), django_assert_num_queries(1):
        listed = list(selectors.loans())
        assert [loan.outstanding_principal for loan in listed] == [D("1200")] * 3
        assert {loan.customer.reference for loan in listed}
