"""Partner API of accounts and the ledger: parse, validate with the form, call a service or
selector. Every money-moving POST (and opening an account, placing a hold) honours
`Idempotency-Key`."""

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
from accounts.schemas import ACCOUNT, HOLD, TRANSACTION, TRANSFER
from accounts.serializers import account_json, hold_json, transaction_json, transfer_json
from core.api.endpoint import ApiView, operation
from core.api.pagination import paginate

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
        queryset = selectors.accounts(
            customer=filters["customer"] or None,
            status=filters["status"] or None,
            currency=filters["currency"] or None,
        )
        rows, cursor = paginate(request, queryset, ordering=selectors.ACCOUNT_ORDERING)
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
        return account_json(selectors.get_account(account.reference))


class AccountDetail(ApiView):
    @operation(
        operation_id="getAccount",
        scope="accounts:read",
        summary="Read an account with its balances",
        response=ACCOUNT,
        tags=TAGS,
    )
    def get(self, request, ref):
        return account_json(selectors.get_account(ref))

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
        account = selectors.get_account(ref)
        form = self.validate(AccountUpdateForm(data=request.json, account=account))
        services.update_account(account=account, changes=form.changes(), by=request.partner_key)
        return account_json(selectors.get_account(ref))


def _lifecycle(service, operation_id, summary):
    class Lifecycle(ApiView):
        @operation(
            operation_id=operation_id,
            scope="accounts:write",
            summary=summary,
            response=ACCOUNT,
            errors=(409, 422),
            tags=TAGS,
        )
        def post(self, request, ref):
            service(account=selectors.get_account(ref), by=request.partner_key)
            return account_json(selectors.get_account(ref))

    Lifecycle.__name__ = Lifecycle.__qualname__ = operation_id[0].upper() + operation_id[1:]
    return Lifecycle


FreezeAccount = _lifecycle(
    services.freeze_account, "freezeAccount", "Freeze an account: nothing posts to it"
)
UnfreezeAccount = _lifecycle(
    services.unfreeze_account, "unfreezeAccount", "Unfreeze a frozen account"
)
CloseAccount = _lifecycle(
    services.close_account, "closeAccount", "Close an account (zero balance, no active holds)"
)


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
        account = selectors.get_account(ref)
        period = self.query(request, StatementQueryForm)
        postings = selectors.statement(account, since=period["from"], until=period["to"])
        rows, cursor = paginate(request, postings, ordering=selectors.STATEMENT_ORDERING)
        return {
            "data": [transaction_json(p, account.currency) for p in rows],
            "next_cursor": cursor,
        }


def _movement(service, operation_id, summary):
    class Movement(ApiView):
        @operation(
            operation_id=operation_id,
            scope="accounts:write",
            summary=summary,
            request_form=MovementForm,
            response=TRANSACTION,
            status=201,
            idempotent=True,
            errors=(422,),
            tags=TAGS,
        )
        def post(self, request, ref):
            account = selectors.get_account(ref)
            form = self.validate(MovementForm(data=request.json, currency=account.currency))
            posting = service(account=account, **form.cleaned_data, by=request.partner_key)
            return transaction_json(posting, account.currency)

    Movement.__name__ = Movement.__qualname__ = operation_id[0].upper() + operation_id[1:]
    return Movement


Deposit = _movement(services.deposit, "createDeposit", "Deposit money into the account")
Withdrawal = _movement(services.withdraw, "createWithdrawal", "Withdraw money from the account")


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
        form = self.validate(TransferForm(data=request.json, find_account=selectors.get_account))
        data = form.cleaned_data
        journal = services.transfer(**data, by=request.partner_key)
        source, target = data["from_account"], data["to_account"]
        debit, credit = sorted(journal.postings.all(), key=lambda p: p.amount)
        debit.account, credit.account = source, target
        return transfer_json(journal, debit=debit, credit=credit, currency=source.currency)


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
        account = selectors.get_account(ref)
        status = self.query(request, HoldQueryForm)["status"] or None
        rows, cursor = paginate(
            request, selectors.holds_of(account, status=status), ordering=selectors.HOLD_ORDERING
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
        account = selectors.get_account(ref)
        form = self.validate(HoldForm(data=request.json, currency=account.currency))
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
        hold = selectors.get_hold(selectors.get_account(ref), hold_id)
        services.release_hold(hold=hold, by=request.partner_key)
