"""Explicit JSON shapes of accounts, transactions, transfers and holds (schemas: `schemas.py`).

Money is a string with the currency's minor-unit places: `"250.50"`, JPY `"250"`.
"""

from accounts.currencies import format_amount as money


def account_json(account):
    currency = account.currency
    return {
        "reference": account.reference,
        "account_number": account.account_number,
        "customer": account.customer.reference,
        "product": account.product,
        "currency": currency,
        "status": account.status,
        "balance": money(account.balance, currency),
        "available_balance": money(account.available_balance, currency),
        "overdraft_limit": money(account.overdraft_limit, currency),
        "opened_on": account.opened_on,
        "closed_on": account.closed_on,
    }


def transaction_json(posting, currency):
    """A posting of an account in `currency` (passed: a statement page knows its account)."""
    return {
        "id": posting.public_id,
        "journal": posting.journal.public_id,
        "kind": posting.kind,
        "amount": money(posting.amount, currency),
        "balance_after": money(posting.balance_after, currency),
        "description": posting.description,
        "value_date": posting.value_date,
        "posted_at": posting.posted_at,
        "external_reference": posting.external_reference,
    }


def transfer_json(journal, *, debit, credit, currency):
    return {
        "journal": journal.public_id,
        "from_account": debit.account.reference,
        "to_account": credit.account.reference,
        "amount": money(credit.amount, currency),
        "currency": currency,
        "description": journal.description,
        "posted_at": credit.posted_at,
        "transactions": [transaction_json(debit, currency), transaction_json(credit, currency)],
    }


def hold_json(hold, currency):
    return {
        "id": hold.public_id,
        "amount": money(hold.amount, currency),
        "reason": hold.reason,
        "expires_at": hold.expires_at,
        "status": hold.status,
        "created_at": hold.created_at,
        "released_at": hold.released_at,
    }
