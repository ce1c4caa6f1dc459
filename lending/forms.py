"""Input parsing of the lending API: each form reads what was sent and looks up the objects it
names; `lending.rules` (called by the services) checks the terms. The views pass the cleaned
data to a service.

Amounts and rates arrive as decimal strings (a JSON number is refused before the form, by the
body's schema). A malformed value (zero, negative, more places than the currency has) is a 400
naming the field; a well-formed term outside the product's limits is the service's 422 naming
the limit. A reference in the body that names nothing of this tenant is a 400 naming the field.
"""

import datetime

from django import forms
from django.core.exceptions import ValidationError

from accounts import currencies
from accounts.models import Account
from customers.models import Customer
from lending.models import RATE, Collateral, Loan, LoanProduct
from lending.schedule import Frequency

# As the accounts API: 14 digits before the point at most (headroom below the ledger's columns).
AMOUNT_DIGITS = {"max_digits": 18, "decimal_places": 4}


# The dates a schedule may be counted from: far enough from the calendar's ends (year 1 and
# 9999) that no product's installments run off them (the date maths would overflow).
EARLIEST, LATEST = datetime.date(1900, 1, 1), datetime.date(2199, 12, 31)


def _schedule_date(value):
    if value is not None and not EARLIEST <= value <= LATEST:
        raise ValidationError(f"Must be between {EARLIEST} and {LATEST}.")
    return value


def _reference(help_text, **kwargs):
    return forms.CharField(max_length=32, help_text=help_text, **kwargs)


def _lookup(model, queryset, reference, what):
    found = queryset.filter(reference=reference).first()
    if found is None:  # also another tenant's: the same answer
        raise ValidationError(f"No {what} with this reference.")
    return found


def _amount_in(form, name, currency):
    """The form's `name` as an amount of `currency` (a 400 naming `name` otherwise)."""
    value = form.cleaned_data.get(name)
    if value is None or currency is None:
        return
    try:
        form.cleaned_data[name] = currencies.parse_amount(value, currency, field=name, written=True)
    except ValidationError as error:
        form.add_error(None, error)


class TermsForm(forms.Form):
    """The terms of a quote or an application."""

    product = _reference("Reference of the loan product (`GET /loan-products`).")
    principal = forms.DecimalField(
        **AMOUNT_DIGITS, help_text="A decimal string in the product's currency."
    )
    annual_interest_rate = forms.DecimalField(
        **RATE, min_value=0, help_text='Annual percent as a decimal string ("12.5").'
    )
    number_of_installments = forms.IntegerField(min_value=1)
    repayment_frequency = forms.ChoiceField(choices=[(f.value, f.value) for f in Frequency])
    first_repayment_date = forms.DateField(
        required=False, help_text="The first due date; default one period after the start."
    )
    start_date = forms.DateField(
        required=False,
        help_text="Interest runs from it (the disbursement sets it); "
        "default today unless `first_repayment_date` is given.",
    )

    def clean_first_repayment_date(self):
        return _schedule_date(self.cleaned_data["first_repayment_date"])

    def clean_start_date(self):
        return _schedule_date(self.cleaned_data["start_date"])

    def clean_product(self):
        return _lookup(
            LoanProduct, LoanProduct.objects.all(), self.cleaned_data["product"], "loan product"
        )

    def clean(self):
        cleaned = super().clean()
        product = cleaned.get("product")
        _amount_in(self, "principal", product.currency if product else None)
        return cleaned


class ApplicationForm(TermsForm):
    customer = _reference("Reference of the borrower (active, KYC verified).")
    account = _reference(
        "Reference of the borrower's deposit account in the product's currency: the loan is "
        "paid into it and repaid from it."
    )

    def clean_customer(self):
        return _lookup(Customer, Customer.objects.all(), self.cleaned_data["customer"], "customer")

    def clean_account(self):
        return _lookup(
            Account, Account.objects.customer_accounts(), self.cleaned_data["account"], "account"
        )


class LoanFilterForm(forms.Form):
    customer = _reference("A customer reference: that customer's loans.", required=False)
    status = forms.ChoiceField(choices=Loan.Status.choices, required=False)


class RejectForm(forms.Form):
    reason = forms.CharField(max_length=500, required=False, help_text="Why; shown on the loan.")


class DisburseForm(forms.Form):
    disbursed_on = forms.DateField(
        required=False, help_text="Today (the default) or a past date: interest runs from it."
    )


class RepaymentForm(forms.Form):
    amount = forms.DecimalField(
        **AMOUNT_DIGITS, help_text="A decimal string in the loan's currency."
    )
    received_on = forms.DateField(
        required=False, help_text="Default today; not before the last repayment."
    )

    def __init__(self, *args, loan, **kwargs):
        super().__init__(*args, **kwargs)
        self.loan = loan

    def clean(self):
        cleaned = super().clean()
        _amount_in(self, "amount", self.loan.currency)
        return cleaned


class PayoffQueryForm(forms.Form):
    date = forms.DateField(required=False, help_text="ISO 8601 date; default today.")


class CollateralForm(forms.Form):
    type = forms.ChoiceField(choices=Collateral.Type.choices)
    description = forms.CharField(max_length=Collateral._meta.get_field("description").max_length)
    value = forms.DecimalField(**AMOUNT_DIGITS, help_text="A decimal string in `currency`.")
    currency = forms.CharField(min_length=3, max_length=3, help_text="ISO 4217 code.")
    currency.api_pattern = "^[A-Za-z]{3}$"
    valuation_date = forms.DateField()
    guarantor = _reference(
        "Reference of the customer who guarantees the loan: required for a guarantee, "
        "refused otherwise.",
        required=False,
    )

    def clean_currency(self):
        return self.cleaned_data["currency"].upper()

    def clean(self):
        cleaned = super().clean()
        # A code in no use still gets here; the service's rule then names `currency`.
        _amount_in(self, "value", cleaned.get("currency"))
        return cleaned

    def clean_guarantor(self):
        reference = self.cleaned_data["guarantor"]
        if not reference:
            return None
        return _lookup(Customer, Customer.objects.all(), reference, "customer")
