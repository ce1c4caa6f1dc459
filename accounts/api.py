"""Partner API of accounts and the ledger: parse, validate with the form, call a service or
selector. Every money-moving POST (and opening an account, placing a hold) honours
`Idempotency-Key`."""

import hashlib

from accounts import selectors, services
from accounts.forms import (
    AccountFilterForm,
    AccountOpenForm,
    AccountUpdateForm,
    HoldForm,
    HoldQueryForm,
    MovementForm,
    StatementQueryForm,
    TransferForm,
)
from accounts.models import Account, Hold
from accounts.schemas import ACCOUNT, HOLD, TRANSACTION, TRANSFER
from accounts.serializers import account_json, hold_json, transaction_json, transfer_json
from core.api.endpoint import ApiView, Replayed, operation
from core.api.idempotency import HEADER as IDEMPOTENCY_HEADER
from core.api.pagination import paginate
from core.errors import NotFound
from core.forms import AsOfQueryForm
from customers import selectors as customer_selectors

TAGS = ("accounts",)


class AccountList(ApiView):
    @operation(
        operation_id="listAccounts",
        scope="accounts:read",
        summary="List the customers' accounts",
        query_form=AccountFilterForm,
        response=ACCOUNT,
        paginated=True,
        tags=TAGS,
    )
    def get(self, request):
        filters = self.query(request, AccountFilterForm)
        customer = None
        if filters["customer"]:
            try:
                customer = customer_selectors.get_customer(filters["customer"])
            except NotFound:  # nobody's accounts, not an error: a filter matching nothing
                return {"data": [], "next_cursor": None}
        queryset = selectors.accounts(
            customer=customer, status=filters["status"], currency=filters["currency"]
        )
        rows, cursor = paginate(request, queryset, ordering=Account._meta.ordering)
        return {"data": [account_json(a) for a in rows], "next_cursor": cursor}

    @operation(
        operation_id="openAccount",
        scope="accounts:write",
        summary="Open an account for an active, KYC-verified customer",
        request_form=AccountOpenForm,
        response=ACCOUNT,
        status=201,
        idempotent=True,
        errors=(422,),
        tags=TAGS,
    )
    def post(self, request):
        form = self.validate(AccountOpenForm(data=request.json))
        account = services.open_account(**form.cleaned_data, by=request.partner_key)
        return account_json(selectors.get_customer_account(account.reference))


class AccountDetail(ApiView):
    @operation(
        operation_id="getAccount",
        scope="accounts:read",
        summary="Read an account with its balances (as they were at `as_of`, if given)",
        query_form=AsOfQueryForm,
        response=ACCOUNT,
        tags=TAGS,
    )
    def get(self, request, ref):
        as_of = self.query(request, AsOfQueryForm)["as_of"]
        if as_of is not None:
            return account_json(*selectors.customer_account_as_of(ref, as_of))
        return account_json(selectors.get_customer_account(ref))

    @operation(
        operation_id="updateAccount",
        scope="accounts:write",
        summary="Change an account's settings (overdraft_limit)",
        request_form=AccountUpdateForm,
        partial=True,
        response=ACCOUNT,
        errors=(409, 422),
        tags=TAGS,
    )
    def patch(self, request, ref):
        account = selectors.get_customer_account(ref)
        form = self.validate(AccountUpdateForm(data=request.json, account=account))
        services.update_account(account=account, changes=form.changes(), by=request.partner_key)
        return account_json(selectors.get_customer_account(ref))


def _journal_key(request):
    """The request's Idempotency-Key as the journal keeps it for good (the API's stored
    response is purged after a day): a retry even later posts nothing twice. Namespaced by
    partner key, as the API's keys are, and hashed to fit."""
    key = request.headers.get(IDEMPOTENCY_HEADER, "")
    if not key:
        return ""
    return f"api:{request.partner_key.pk}:{hashlib.sha256(key.encode()).hexdigest()}"


def _lifecycle(request, ref, service):
    service(account=selectors.get_customer_account(ref), by=request.partner_key)
    return account_json(selectors.get_customer_account(ref))


LIFECYCLE = {
    "scope": "accounts:write",
    "response": ACCOUNT,
    "errors": (409, 422),
    "tags": TAGS,
}


class FreezeAccount(ApiView):
    @operation(operation_id="freezeAccount", summary="Freeze: nothing posts to it", **LIFECYCLE)
    def post(self, request, ref):
        return _lifecycle(request, ref, services.freeze_account)


class UnfreezeAccount(ApiView):
    @operation(operation_id="unfreezeAccount", summary="Unfreeze a frozen account", **LIFECYCLE)
    def post(self, request, ref):
        return _lifecycle(request, ref, services.unfreeze_account)


class CloseAccount(ApiView):
    @operation(
        operation_id="closeAccount",
        summary="Close an account (zero balance, no active holds)",
        **LIFECYCLE,
    )
    def post(self, request, ref):
        return _lifecycle(request, ref, services.close_account)


class Statement(ApiView):
    @operation(
        operation_id="listTransactions",
        scope="accounts:read",
        summary="The account's statement, newest first, with the balance after each posting",
        query_form=StatementQueryForm,
        response=TRANSACTION,
        paginated=True,
        tags=TAGS,
    )
    def get(self, request, ref):
        account = selectors.get_customer_account(ref)
        period = self.query(request, StatementQueryForm)
        postings = selectors.statement(account, since=period["from"], until=period["to"])
        rows, cursor = paginate(request, postings, ordering=selectors.STATEMENT_ORDERING)
        return {
            "data": [transaction_json(p, account.currency) for p in rows],
            "next_cursor": cursor,
        }


def _answer(body, posting):
    """`body`, or `body` as a replay when the service found the movement already posted under
    this request's key (the stored response purged after a day, the journal's key kept for
    good; the service refused it if this request says something else)."""
    return Replayed(body) if posting.journal.replayed else body


def _move(view, request, ref, service):
    account = selectors.get_customer_account(ref)
    form = view.validate(MovementForm(data=request.json, account=account))
    posting = service(
        account=account,
        **form.cleaned_data,
        idempotency_key=_journal_key(request),
        by=request.partner_key,
    )
    return _answer(transaction_json(posting, account.currency), posting)


MOVEMENT = {
    "scope": "accounts:write",
    "request_form": MovementForm,
    "response": TRANSACTION,
    "status": 201,
    "idempotent": True,
    "errors": (422,),
    "tags": TAGS,
}


class Deposit(ApiView):
    @operation(operation_id="createDeposit", summary="Pay money into the account", **MOVEMENT)
    def post(self, request, ref):
        return _move(self, request, ref, services.deposit)


class Withdrawal(ApiView):
    @operation(operation_id="createWithdrawal", summary="Pay money out of the account", **MOVEMENT)
    def post(self, request, ref):
        return _move(self, request, ref, services.withdraw)


class Transfers(ApiView):
    @operation(
        operation_id="createTransfer",
        scope="accounts:write",
        summary="Move money between two accounts of the same currency",
        request_form=TransferForm,
        response=TRANSFER,
        status=201,
        idempotent=True,
        errors=(404, 422),
        tags=TAGS,
    )
    def post(self, request):
        form = self.validate(TransferForm(data=request.json))
        data = form.cleaned_data
        journal = services.transfer(
            **data, idempotency_key=_journal_key(request), by=request.partner_key
        )
        source, target = data["from_account"], data["to_account"]
        debit, credit = journal.posting_list
        debit.account, credit.account = source, target  # known: no query to load them
        body = transfer_json(journal, debit=debit, credit=credit, currency=source.currency)
        return _answer(body, debit)


class HoldList(ApiView):
    @operation(
        operation_id="listHolds",
        scope="accounts:read",
        summary="The account's holds, newest first",
        query_form=HoldQueryForm,
        response=HOLD,
        paginated=True,
        tags=TAGS,
    )
    def get(self, request, ref):
        account = selectors.get_customer_account(ref)
        status = self.query(request, HoldQueryForm)["status"] or None
        rows, cursor = paginate(
            request, selectors.holds_of(account, status=status), ordering=Hold._meta.ordering
        )
        return {"data": [hold_json(h, account.currency) for h in rows], "next_cursor": cursor}

    @operation(
        operation_id="placeHold",
        scope="accounts:write",
        summary="Reserve an amount: it leaves the available balance until released or expired",
        request_form=HoldForm,
        response=HOLD,
        status=201,
        idempotent=True,
        errors=(422,),
        tags=TAGS,
    )
    def post(self, request, ref):
        account = selectors.get_customer_account(ref)
        form = self.validate(HoldForm(data=request.json, account=account))
        hold = services.place_hold(account=account, **form.cleaned_data, by=request.partner_key)
        return hold_json(hold, account.currency)


class HoldDetail(ApiView):
    @operation(
        operation_id="releaseHold",
        scope="accounts:write",
        summary="Release a hold",
        status=204,
        errors=(409,),
        tags=TAGS,
    )
    def delete(self, request, ref, hold_id):
        hold = selectors.get_hold(selectors.get_customer_account(ref), hold_id)
        services.release_hold(hold=hold, by=request.partner_key)
