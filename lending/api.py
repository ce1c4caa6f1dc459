"""Partner API of lending: parse, validate with the form, call a service or selector.

Applying, disbursing, repaying and adding collateral honour `Idempotency-Key`. Approving and
rejecting need `lending:approve`, and never by the key that submitted the application
(four-eyes: the service's `Forbidden`, 403).
"""

from django.core.exceptions import ValidationError
from django.utils import timezone

from core.api.endpoint import ApiView, operation
from core.api.pagination import paginate
from core.errors import NotFound
from core.forms import AsOfQueryForm
from customers import selectors as customer_selectors
from lending import rules, selectors, services
from lending.forms import (
    ApplicationForm,
    CollateralForm,
    DisburseForm,
    LoanFilterForm,
    PayoffQueryForm,
    RejectForm,
    RepaymentForm,
    TermsForm,
)
from lending.models import Loan
from lending.schemas import (
    COLLATERAL,
    INSTALLMENT,
    LOAN,
    LOAN_PRODUCT,
    LOAN_QUOTE,
    PAYOFF,
    REPAYMENT,
)
from lending.serializers import (
    collateral_json,
    installment_json,
    loan_json,
    payoff_json,
    product_json,
    quote_json,
    repayment_json,
)

TAGS = ("lending",)


def _loan(reference):
    """The live loan `reference` of this tenant, with its outstanding amounts."""
    if "\x00" in reference:  # PostgreSQL refuses NUL in text; no reference contains one
        raise NotFound("No loan with this reference.")
    return selectors.get_loan(reference)


class ProductList(ApiView):
    @operation(
        operation_id="listLoanProducts",
        scope="lending:read",
        summary="The loan products of the bank and their limits, by name",
        response=LOAN_PRODUCT,
        paginated=True,
        tags=TAGS,
    )
    def get(self, request):
        rows, cursor = paginate(request, selectors.products(), ordering=("name", "id"))
        return {"data": [product_json(p) for p in rows], "next_cursor": cursor}


class Quote(ApiView):
    @operation(
        operation_id="quoteLoan",
        scope="lending:write",
        summary="The schedule the terms would have; nothing is stored",
        request_form=TermsForm,
        response=LOAN_QUOTE,
        errors=(422,),
        tags=TAGS,
    )
    def post(self, request):
        terms = self.validate(TermsForm(data=request.json)).cleaned_data
        product = terms["product"]
        schedule = services.quote(**terms)
        fee = rules.origination_fee(product, schedule.principal)
        return quote_json(schedule, product.currency, fee)


class LoanList(ApiView):
    @operation(
        operation_id="listLoans",
        scope="lending:read",
        summary="Loans and applications, newest first, with their outstanding amounts",
        query_form=LoanFilterForm,
        response=LOAN,
        paginated=True,
        tags=TAGS,
    )
    def get(self, request):
        filters = self.query(request, LoanFilterForm)
        customer = None
        if filters["customer"]:
            try:
                customer = customer_selectors.get_customer(filters["customer"])
            except NotFound:  # nobody's loans, not an error: a filter matching nothing
                return {"data": [], "next_cursor": None}
        queryset = selectors.loans(customer=customer, status=filters["status"])
        rows, cursor = paginate(request, queryset, ordering=Loan._meta.ordering)
        return {"data": [loan_json(loan) for loan in rows], "next_cursor": cursor}

    @operation(
        operation_id="applyForLoan",
        scope="lending:write",
        summary="Apply for a loan: an application pending approval",
        request_form=ApplicationForm,
        response=LOAN,
        status=201,
        idempotent=True,
        errors=(422,),
        tags=TAGS,
    )
    def post(self, request):
        form = self.validate(ApplicationForm(data=request.json))
        loan = services.apply_for_loan(**form.cleaned_data, by=request.partner_key)
        return loan_json(selectors.get_loan(loan.reference))


class LoanDetail(ApiView):
    @operation(
        operation_id="getLoan",
        scope="lending:read",
        summary="Read a loan with its outstanding amounts and days past due (as they were at "
        "`as_of`, if given)",
        query_form=AsOfQueryForm,
        response=LOAN,
        tags=TAGS,
    )
    def get(self, request, ref):
        as_of = self.query(request, AsOfQueryForm)["as_of"]
        if as_of is not None:
            return loan_json(selectors.loan_as_of(ref, as_of))
        return loan_json(_loan(ref))


def _decide(request, ref, service, **options):
    service(loan=_loan(ref), **options, by=request.partner_key)
    return loan_json(_loan(ref))


DECISION = {"response": LOAN, "errors": (409,), "tags": TAGS}


class ApproveLoan(ApiView):
    @operation(
        operation_id="approveLoan",
        scope="lending:approve",
        summary="Approve an application (not by the key that submitted it)",
        **DECISION,
    )
    def post(self, request, ref):
        return _decide(request, ref, services.approve_loan)


class RejectLoan(ApiView):
    @operation(
        operation_id="rejectLoan",
        scope="lending:approve",
        summary="Reject an application (not by the key that submitted it), saying why",
        request_form=RejectForm,
        **DECISION,
    )
    def post(self, request, ref):
        reason = self.validate(RejectForm(data=request.json)).cleaned_data["reason"]
        return _decide(request, ref, services.reject_loan, reason=reason)


class WithdrawLoan(ApiView):
    @operation(
        operation_id="withdrawLoan",
        scope="lending:write",
        summary="Withdraw an application not yet disbursed",
        **DECISION,
    )
    def post(self, request, ref):
        return _decide(request, ref, services.withdraw_loan)


class DisburseLoan(ApiView):
    @operation(
        operation_id="disburseLoan",
        scope="lending:write",
        summary="Pay an approved loan's principal into its account and write its schedule",
        request_form=DisburseForm,
        response=LOAN,
        idempotent=True,
        errors=(409, 422),
        tags=TAGS,
    )
    def post(self, request, ref):
        loan = _loan(ref)
        on = self.validate(DisburseForm(data=request.json)).cleaned_data["disbursed_on"]
        try:
            services.disburse_loan(loan=loan, on=on, by=request.partner_key)
        except ValidationError as error:  # the service names its argument, `on`
            raise ValidationError(
                {"disbursed_on" if f == "on" else f: m for f, m in error.message_dict.items()}
            ) from None
        return loan_json(_loan(ref))


class Schedule(ApiView):
    @operation(
        operation_id="getLoanSchedule",
        scope="lending:read",
        summary="The loan's installments in order (none before disbursement)",
        response=INSTALLMENT,
        paginated=True,
        tags=TAGS,
    )
    def get(self, request, ref):
        loan = _loan(ref)
        rows, cursor = paginate(request, selectors.schedule_of(loan), ordering=("number",))
        return {
            "data": [installment_json(i, loan.currency) for i in rows],
            "next_cursor": cursor,
        }


class Repayments(ApiView):
    @operation(
        operation_id="createRepayment",
        scope="lending:write",
        summary="Repay from the loan's account: allocated to what is due, oldest first",
        request_form=RepaymentForm,
        response=REPAYMENT,
        status=201,
        idempotent=True,
        errors=(409, 422),
        tags=TAGS,
    )
    def post(self, request, ref):
        loan = _loan(ref)
        form = self.validate(RepaymentForm(data=request.json, loan=loan))
        repayment = services.repay_loan(loan=loan, **form.cleaned_data, by=request.partner_key)
        return repayment_json(repayment, _loan(ref))


class Payoff(ApiView):
    @operation(
        operation_id="getLoanPayoff",
        scope="lending:read",
        summary="The amount that closes the loan on a date",
        query_form=PayoffQueryForm,
        response=PAYOFF,
        tags=TAGS,
    )
    def get(self, request, ref):
        loan = _loan(ref)
        on = self.query(request, PayoffQueryForm)["date"] or timezone.localdate()
        return payoff_json(selectors.payoff(loan, on=on), on=on, currency=loan.currency)


class CollateralList(ApiView):
    @operation(
        operation_id="listCollateral",
        scope="lending:read",
        summary="The collateral pledged for the loan, oldest first",
        response=COLLATERAL,
        paginated=True,
        tags=TAGS,
    )
    def get(self, request, ref):
        loan = _loan(ref)
        rows, cursor = paginate(request, selectors.collateral_of(loan), ordering=("id",))
        return {"data": [collateral_json(c) for c in rows], "next_cursor": cursor}

    @operation(
        operation_id="addCollateral",
        scope="lending:write",
        summary="Pledge collateral for a loan not yet ended",
        request_form=CollateralForm,
        response=COLLATERAL,
        status=201,
        idempotent=True,
        errors=(409,),
        tags=TAGS,
    )
    def post(self, request, ref):
        loan = _loan(ref)
        form = self.validate(CollateralForm(data=request.json))
        collateral = services.add_collateral(loan=loan, **form.cleaned_data, by=request.partner_key)
        return collateral_json(collateral)
