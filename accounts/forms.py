"""Input parsing of the accounts API: each form reads what was sent and checks it with
`accounts.rules`; the views pass the cleaned data to a service.

Amounts arrive as decimal strings (a JSON number is refused before the form, by the body's
schema); a zero or negative amount, or more places than the account's currency has, is a 400
naming `amount`.
"""

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts import rules, selectors
from accounts.models import Account, Hold, Posting
from core.errors import NotFound
from core.forms import UtcDateTimeField
from customers.models import Customer

# The ledger's columns hold 16 digits before the point; one movement may use 14 of them, so a
# balance reaches the columns' limit only after a hundred of the largest movements.
AMOUNT_DIGITS = {"max_digits": 18, "decimal_places": 4}


def _amount_field(help_text="A decimal string in the account's currency."):
    return forms.DecimalField(**AMOUNT_DIGITS, help_text=help_text)


# The contract lists it among what a movement takes, not among its optional fields.
DESCRIPTION_HELP = "What the movement is for, as the statement shows it."


def _text_field(model, name, **kwargs):
    return forms.CharField(max_length=model._meta.get_field(name).max_length, **kwargs)


class CurrencyField(forms.CharField):
    """An ISO 4217 code of a currency in use, upper-cased."""

    api_pattern = "^[A-Za-z]{3}$"

    def __init__(self, **kwargs):
        super().__init__(max_length=3, min_length=3, help_text="ISO 4217 code.", **kwargs)

    def to_python(self, value):
        return super().to_python(value).upper()

    def validate(self, value):
        super().validate(value)
        if value:
            try:
                rules.clean_currency(value)
            except ValidationError as error:
                raise ValidationError(error.message_dict["currency"]) from None


class AmountForm(forms.Form):
    """Base of the forms carrying an `amount` in the currency of `account` (given)."""

    def __init__(self, *args, account=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.account = account

    def clean(self):
        cleaned = super().clean()
        currency = self.currency_of(cleaned)
        if "amount" in cleaned and currency:
            try:
                cleaned["amount"] = rules.clean_amount(cleaned["amount"], currency, written=True)
            except ValidationError as error:
                self.add_error(None, error)  # names `amount`
        return cleaned

    def currency_of(self, cleaned):
        return self.account.currency


class AccountFilterForm(forms.Form):
    customer = forms.CharField(
        max_length=32, required=False, help_text="A customer reference: that customer's accounts."
    )
    status = forms.ChoiceField(choices=Account.Status.choices, required=False)
    currency = CurrencyField(required=False)


class AccountOpenForm(forms.Form):
    customer = forms.CharField(
        max_length=32, help_text="The reference of the account holder (active, KYC verified)."
    )
    product = forms.ChoiceField(choices=Account.Product.choices)
    currency = CurrencyField()
    overdraft_limit = forms.DecimalField(
        **AMOUNT_DIGITS, required=False, help_text="Default 0; savings accounts have none."
    )

    def clean_customer(self):
        customer = Customer.objects.filter(reference=self.cleaned_data["customer"]).first()
        if customer is None:  # also another tenant's: the same answer
            raise ValidationError("No customer with this reference.")
        return customer

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("currency") and cleaned.get("product"):
            try:
                cleaned["overdraft_limit"] = rules.clean_overdraft_limit(
                    cleaned.get("overdraft_limit"),
                    currency=cleaned["currency"],
                    product=cleaned["product"],
                    written=True,
                )
            except ValidationError as error:
                self.add_error(None, error)  # names `overdraft_limit`
        return cleaned


class AccountUpdateForm(forms.Form):
    """PATCH: the mutable settings; only the fields sent (and not null) change."""

    overdraft_limit = forms.DecimalField(**AMOUNT_DIGITS, required=False)

    def __init__(self, *args, account, **kwargs):
        super().__init__(*args, **kwargs)
        self.account = account

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("overdraft_limit") is not None:
            try:
                cleaned["overdraft_limit"] = rules.clean_overdraft_limit(
                    cleaned["overdraft_limit"],
                    currency=self.account.currency,
                    product=self.account.product,
                    written=True,
                )
            except ValidationError as error:
                self.add_error(None, error)
        return cleaned

    def changes(self):
        return {name: value for name, value in self.cleaned_data.items() if value is not None}


class MovementForm(AmountForm):
    """A deposit or withdrawal of `amount` in the currency of `account`."""

    amount = _amount_field()
    description = _text_field(Posting, "description", help_text=DESCRIPTION_HELP)
    value_date = forms.DateField(required=False, help_text="Default: today.")
    external_reference = _text_field(
        Posting,
        "external_reference",
        required=False,
        help_text="Your own reference of the movement, shown on the statement.",
    )


class TransferForm(AmountForm):
    """An unknown account, or another tenant's, answers 404 (`NotFound` from `clean()`), as
    any account in a path does: whether it exists elsewhere is never told."""

    from_account = forms.CharField(max_length=32, help_text="Reference of the debited account.")
    to_account = forms.CharField(max_length=32, help_text="Reference of the credited account.")
    amount = _amount_field(help_text="A decimal string in the accounts' currency.")
    description = _text_field(Posting, "description", help_text=DESCRIPTION_HELP)

    def clean(self):
        sides = [name for name in ("from_account", "to_account") if name in self.cleaned_data]
        references = [self.cleaned_data[name] for name in sides]
        found = {
            account.reference: account
            for account in selectors.customer_accounts_by_reference(*references)
        }
        for name in sides:
            if self.cleaned_data[name] not in found:
                raise NotFound("No account with this reference.")
            self.cleaned_data[name] = found[self.cleaned_data[name]]
        return super().clean()

    def currency_of(self, cleaned):
        source = cleaned.get("from_account")
        return source.currency if source else None


class HoldForm(AmountForm):
    amount = _amount_field()
    reason = _text_field(Hold, "reason")
    expires_at = UtcDateTimeField(
        required=False, help_text="ISO 8601, in the future; the hold stops counting then."
    )

    def clean_expires_at(self):
        expires_at = self.cleaned_data["expires_at"]
        if expires_at is not None and expires_at <= timezone.now():
            raise ValidationError("Must be in the future.")
        return expires_at


class StatementQueryForm(forms.Form):
    """`from` and `to` are Python keywords: added by name below."""

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("from"), cleaned.get("to")
        if start and end and end < start:
            self.add_error("to", "Must not be before `from`.")
        return cleaned


StatementQueryForm.base_fields["from"] = forms.DateField(
    required=False, help_text="ISO 8601 date; postings on or after it."
)
StatementQueryForm.base_fields["to"] = forms.DateField(
    required=False, help_text="ISO 8601 date; postings on or before it."
)


class HoldQueryForm(forms.Form):
    status = forms.ChoiceField(choices=Hold.Status.choices, required=False)
