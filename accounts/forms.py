"""Input parsing of the accounts API: each form reads what was sent and checks amounts and
currencies with `accounts.currencies`; the views pass the cleaned data to a service.

Amounts arrive as decimal strings (a JSON number is refused before the form, by the body's
schema); a zero or negative amount, or more places than the account's currency has, is a 400
naming `amount`.
"""

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.currencies import parse_amount, validate_currency
from accounts.models import Account, Hold, Posting
from core.forms import UtcDateTimeField
from customers.models import Customer

# The ledger's columns hold 20 digits, 4 after the point.
AMOUNT_DIGITS = {"max_digits": 20, "decimal_places": 4}


def _in_currency(amount, currency, *, allow_zero=False):
    """`amount` checked for `currency` (positive, at most its minor unit's places), as the
    message of the form field at fault."""
    if amount is None or (allow_zero and amount == 0):
        return amount
    try:
        return parse_amount(amount, currency)
    except ValidationError as error:
        raise ValidationError(error.message_dict["amount"]) from None


def _amount_field(**kwargs):
    return forms.DecimalField(
        **AMOUNT_DIGITS, help_text="A decimal string in the account's currency.", **kwargs
    )


class CurrencyField(forms.CharField):
    """An ISO 4217 code, upper-cased."""

    def __init__(self, **kwargs):
        super().__init__(max_length=3, min_length=3, help_text="ISO 4217 code.", **kwargs)

    def to_python(self, value):
        return super().to_python(value).upper()

    def validate(self, value):
        super().validate(value)
        if value:
            validate_currency(value)


CurrencyField.api_pattern = "^[A-Za-z]{3}$"


class AmountForm(forms.Form):
    """Base of the forms carrying an `amount` in a known `currency`."""

    def __init__(self, *args, currency=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.currency = currency

    def clean_amount(self):
        return _in_currency(self.cleaned_data["amount"], self._currency())

    def _currency(self):
        return self.currency


class AccountFilterForm(forms.Form):
    customer = forms.CharField(
        max_length=32, required=False, help_text="A customer reference: that customer's accounts."
    )
    status = forms.ChoiceField(choices=Account.Status.choices, required=False)
    currency = CurrencyField(required=False)


class AccountOpenForm(forms.Form):
    customer = forms.ModelChoiceField(
        queryset=Customer.objects.all(),
        to_field_name="reference",
        error_messages={"invalid_choice": "No customer with this reference."},
        help_text="The reference of the account holder (active, KYC verified).",
    )
    product = forms.ChoiceField(choices=Account.Product.choices)
    currency = CurrencyField()
    overdraft_limit = forms.DecimalField(
        **AMOUNT_DIGITS, min_value=0, required=False, help_text="Default 0. A decimal string."
    )

    def clean(self):
        cleaned = super().clean()
        limit, currency = cleaned.get("overdraft_limit"), cleaned.get("currency")
        if limit is not None and currency:
            try:
                _in_currency(limit, currency, allow_zero=True)
            except ValidationError as error:
                self.add_error("overdraft_limit", error.messages)
        if limit is None:
            cleaned.pop("overdraft_limit", None)  # the service's default
        return cleaned


class AccountUpdateForm(forms.Form):
    """PATCH: the mutable settings; only the fields sent (and not null) change."""

    overdraft_limit = forms.DecimalField(**AMOUNT_DIGITS, min_value=0, required=False)

    def __init__(self, *args, account, **kwargs):
        super().__init__(*args, **kwargs)
        self.account = account

    def clean_overdraft_limit(self):
        limit = self.cleaned_data["overdraft_limit"]
        return _in_currency(limit, self.account.currency, allow_zero=True)

    def changes(self):
        return {name: value for name, value in self.cleaned_data.items() if value is not None}


class MovementForm(AmountForm):
    """A deposit or withdrawal of `amount` in the account's `currency`."""

    amount = _amount_field()
    description = forms.CharField(
        max_length=Posting._meta.get_field("description").max_length, required=False
    )
    value_date = forms.DateField(required=False, help_text="Default: today.")
    external_reference = forms.CharField(
        max_length=Posting._meta.get_field("external_reference").max_length,
        required=False,
        help_text="Your own reference of the movement, shown on the statement.",
    )


class TransferForm(AmountForm):
    """`from_account` and `to_account` are looked up with `find_account`, whose refusal (an
    unknown or another tenant's account) answers 404 like any account in a path."""

    from_account = forms.CharField(max_length=32, help_text="Reference of the debited account.")
    to_account = forms.CharField(max_length=32, help_text="Reference of the credited account.")
    amount = _amount_field()
    description = forms.CharField(
        max_length=Posting._meta.get_field("description").max_length, required=False
    )

    def __init__(self, *args, find_account, **kwargs):
        super().__init__(*args, **kwargs)
        self.find_account = find_account

    def clean_from_account(self):
        return self.find_account(self.cleaned_data["from_account"])

    def clean_to_account(self):
        return self.find_account(self.cleaned_data["to_account"])

    def clean_amount(self):
        if "from_account" not in self.cleaned_data:
            return self.cleaned_data["amount"]  # no currency to check the places against
        return super().clean_amount()

    def _currency(self):
        return self.cleaned_data["from_account"].currency


class HoldForm(AmountForm):
    amount = _amount_field()
    reason = forms.CharField(max_length=Hold._meta.get_field("reason").max_length)
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
