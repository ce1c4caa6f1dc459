"""Business rules of accounts and money movements, each written once: forms call them for clear
field errors, services call them again under the balance rows' locks.

Input rules raise Django's `ValidationError` naming the field at fault; rules about the state
of stored rows raise `core.errors.Conflict` (an illegal state transition) or `RuleViolation`
(a refused business rule). Account rules take anything with an account's attributes: an
`Account`, or the row `accounts.services` reads while locking it.
"""

from decimal import Decimal

from django.core.exceptions import ValidationError

from accounts import currencies
from accounts.models import AMOUNT, Account
from core.errors import Conflict, RuleViolation
from customers.models import Customer

Status = Account.Status
ZERO = Decimal(0)

# Where each lifecycle action may take an account from. Closed is final.
TRANSITIONS = {
    "freeze": ({Status.ACTIVE, Status.DORMANT}, Status.FROZEN),
    "unfreeze": ({Status.FROZEN}, Status.ACTIVE),
    "close": ({Status.ACTIVE, Status.FROZEN, Status.DORMANT}, Status.CLOSED),
}


# --- input ------------------------------------------------------------------------------------


def clean_product(product):
    if product not in Account.Product.values:
        raise ValidationError({"product": f"Choose one of: {', '.join(Account.Product.values)}."})
    return product


def clean_currency(code):
    try:
        currencies.validate_currency(code)
    except ValidationError as error:
        raise ValidationError({"currency": error.messages}) from None
    return code


def clean_overdraft_limit(value, *, currency, product, written=False):
    """A limit of zero or more in the currency's minor unit; savings accounts have none.
    `written`: as a client wrote it (`currencies.parse_amount`)."""
    if value in (None, ""):
        return ZERO
    if isinstance(value, float):
        raise ValidationError({"overdraft_limit": "Give the limit as a decimal string."})
    try:
        limit = Decimal(str(value))
    except ArithmeticError:
        raise ValidationError({"overdraft_limit": "Enter a decimal amount."}) from None
    if not limit.is_finite() or limit < 0:
        raise ValidationError({"overdraft_limit": "The overdraft limit cannot be negative."})
    currencies.check_places(
        limit, currency, field="overdraft_limit", written=written or isinstance(value, str)
    )
    if limit and product == Account.Product.SAVINGS:
        raise ValidationError({"overdraft_limit": "A savings account has no overdraft."})
    return currencies.quantize(limit, currency)


def clean_amount(value, currency, *, written=False):
    """A positive amount in `currency`'s minor unit (ValidationError on `amount`). `written`: as
    a client wrote it (`currencies.parse_amount`)."""
    return currencies.parse_amount(value, currency, written=written)


# --- opening ----------------------------------------------------------------------------------


def check_customer_can_open(customer):
    """Only a live, active customer whose KYC is verified gets an account."""
    if customer.is_deleted:
        raise RuleViolation(f"{customer.reference} is deleted; it cannot open an account.")
    if customer.kyc_status != Customer.KycStatus.VERIFIED:
        raise RuleViolation(
            f"{customer.reference} cannot open an account: its KYC is {customer.kyc_status}, "
            "not verified."
        )
    if customer.status != Customer.Status.ACTIVE:
        raise RuleViolation(
            f"{customer.reference} cannot open an account: it is {customer.status}, not active."
        )


# --- lifecycle --------------------------------------------------------------------------------


def check_transition(account, action):
    """The status `action` takes the account to, or Conflict when it cannot from here."""
    sources, target = TRANSITIONS[action]
    if account.status not in sources:
        raise Conflict(f"{account.reference} is {account.status}; it cannot {action}.")
    return target


def check_closable(account, *, balance, held):
    if balance != ZERO:
        raise RuleViolation(
            f"{account.reference} has a balance of "
            f"{currencies.format_amount(balance, account.currency)} {account.currency}; only "
            "an account with a zero balance can be closed."
        )
    if held:
        raise RuleViolation(f"{account.reference} has active holds; release them before closing.")


def check_overdraft_change(account, *, balance, held, limit):
    """A lower limit may not leave the account overdrawn beyond it."""
    if balance - held + limit < 0:
        raise RuleViolation(
            f"{account.reference} is overdrawn beyond a limit of "
            f"{currencies.format_amount(limit, account.currency)}; bring the balance up first."
        )


def open_accounts_of(customer):
    """Closure check of customers (customers.blockers): its accounts not closed."""
    references = (
        Account.objects.filter(customer=customer)
        .exclude(status=Status.CLOSED)
        .values_list("reference", flat=True)
    )
    return [f"account {reference} is still open" for reference in references]


# --- money ------------------------------------------------------------------------------------


def check_can_post(account):
    """Money moves only on active accounts (never a frozen, dormant, closed or deleted one)."""
    if account.deleted_at is not None:
        raise RuleViolation(f"{account.reference} is deleted; nothing posts to it.")
    if account.status != Status.ACTIVE:
        raise RuleViolation(f"{account.reference} is {account.status}; nothing posts to it.")


def check_can_hold(account):
    """Holds go on any account still open (a frozen one included: a garnishment)."""
    if account.deleted_at is not None or account.status == Status.CLOSED:
        raise RuleViolation(f"{account.reference} is closed; it takes no holds.")


def check_same_currency(accounts, currency):
    for account in accounts:
        if account.currency != currency:
            raise RuleViolation(
                f"{account.reference} holds {account.currency}, not {currency}; a movement "
                "stays in one currency."
            )


def check_available(account, *, available, debit):
    """A debit of a customer account stays within its available balance (internal accounts
    have no limit)."""
    if account.internal_code or debit <= available:
        return
    raise RuleViolation(
        f"Insufficient available balance on {account.reference}: "
        f"{currencies.format_amount(available, account.currency)} {account.currency} available, "
        f"{currencies.format_amount(debit, account.currency)} needed."
    )


# The largest magnitude a balance column (and a posting's balance_after) holds.
BALANCE_LIMIT = Decimal(10) ** (AMOUNT["max_digits"] - AMOUNT["decimal_places"])


def check_balance_fits(account, *, balance, amount):
    """A movement never takes a balance (customer or internal) beyond what the ledger stores:
    refused by name here rather than failing in the database."""
    if abs(balance) < BALANCE_LIMIT:
        return
    raise RuleViolation(
        f"{currencies.format_amount(amount, account.currency)} {account.currency} would take the "
        f"balance of {account.reference} beyond what the ledger can hold."
    )


def check_balanced(lines, currency_of):
    """Double entry: the lines' amounts sum to zero in each currency."""
    totals = {}
    for line in lines:
        currency = currency_of(line)
        totals[currency] = totals.get(currency, ZERO) + line.amount
    unbalanced = {code: total for code, total in totals.items() if total != 0}
    if unbalanced or not lines:
        raise ValueError(f"A journal must sum to zero per currency; it sums to {unbalanced}.")
