"""API schemas of accounts and the ledger: one component per shape `accounts/serializers.py`
returns (checked against real responses by `tests/api/test_response_schemas.py`)."""

from accounts.models import Account, Hold, Journal
from core.api.schema import DECIMAL_PATTERN, component

_MONEY = {
    "type": "string",
    "pattern": DECIMAL_PATTERN,
    "description": 'Decimal string with the currency\'s minor-unit places (`"250.50"`).',
}
_DATE = {"type": "string", "format": "date"}
_NULLABLE_DATE = {"type": ["string", "null"], "format": "date"}
_DATE_TIME = {"type": "string", "format": "date-time"}
_NULLABLE_DATE_TIME = {"type": ["string", "null"], "format": "date-time"}
_UUID = {"type": "string", "format": "uuid"}


def _enum(choices):
    return {"type": "string", "enum": list(choices.values)}


# Shared by responses, request bodies and query parameters (see `core.api.openapi`).
ACCOUNT_PRODUCT = component("AccountProduct", _enum(Account.Product))
ACCOUNT_STATUS = component("AccountStatus", _enum(Account.Status))
TRANSACTION_KIND = component("TransactionKind", _enum(Journal.Kind))
HOLD_STATUS = component("HoldStatus", _enum(Hold.Status))

ACCOUNT = component(
    "Account",
    {
        "type": "object",
        "required": [
            "reference",
            "account_number",
            "customer",
            "product",
            "currency",
            "status",
            "balance",
            "available_balance",
            "overdraft_limit",
            "opened_on",
            "closed_on",
        ],
        "properties": {
            "reference": {"type": "string"},
            "account_number": {
                "type": "string",
                "pattern": r"^\d+$",
                "description": "Digits; the last two are ISO 7064 MOD 97-10 check digits.",
            },
            "customer": {"type": "string", "description": "Reference of the account holder."},
            "product": ACCOUNT_PRODUCT,
            "currency": {"type": "string", "description": "ISO 4217 code."},
            "status": ACCOUNT_STATUS,
            "balance": _MONEY,
            "available_balance": {
                **_MONEY,
                "description": "Balance minus active holds plus the overdraft limit.",
            },
            "overdraft_limit": _MONEY,
            "opened_on": _DATE,
            "closed_on": _NULLABLE_DATE,
        },
    },
)

TRANSACTION = component(
    "Transaction",
    {
        "type": "object",
        "description": "One posting of a journal on this account.",
        "required": [
            "id",
            "journal",
            "kind",
            "amount",
            "balance_after",
            "description",
            "value_date",
            "posted_at",
            "external_reference",
        ],
        "properties": {
            "id": _UUID,
            "journal": {**_UUID, "description": "Shared by every posting of one movement."},
            "kind": TRANSACTION_KIND,
            "amount": {**_MONEY, "description": "Signed: credits positive, debits negative."},
            "balance_after": {**_MONEY, "description": "The account's balance after it."},
            "description": {"type": "string"},
            "value_date": _DATE,
            "posted_at": _DATE_TIME,
            "external_reference": {"type": "string"},
        },
    },
)

TRANSFER = component(
    "Transfer",
    {
        "type": "object",
        "required": [
            "journal",
            "from_account",
            "to_account",
            "amount",
            "currency",
            "description",
            "posted_at",
            "transactions",
        ],
        "properties": {
            "journal": _UUID,
            "from_account": {"type": "string", "description": "Reference of the debited account."},
            "to_account": {"type": "string", "description": "Reference of the credited account."},
            "amount": _MONEY,
            "currency": {"type": "string"},
            "description": {"type": "string"},
            "posted_at": _DATE_TIME,
            "transactions": {
                "type": "array",
                "description": "The debit of `from_account`, then the credit of `to_account`.",
                "items": TRANSACTION,
                "minItems": 2,
                "maxItems": 2,
            },
        },
    },
)

HOLD = component(
    "Hold",
    {
        "type": "object",
        "required": ["id", "amount", "reason", "expires_at", "status", "created_at", "released_at"],
        "properties": {
            "id": _UUID,
            "amount": _MONEY,
            "reason": {"type": "string"},
            "expires_at": {**_NULLABLE_DATE_TIME, "description": "Null: until released."},
            "status": HOLD_STATUS,
            "created_at": _DATE_TIME,
            "released_at": _NULLABLE_DATE_TIME,
        },
    },
)
