"""The back office's forms: opening an account, and the staff forms that move money.

They parse what staff typed; every business rule (amounts, currencies, statuses, available
balance) is checked by `accounts.services`, whose refusal comes back as an error on the form.
"""

import uuid

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AdminDateWidget, AutocompleteSelect
from django.core.exceptions import ValidationError

from accounts import currencies, rules
from accounts.models import Account, Posting
from core.context import get_current_tenant
from core.errors import ServiceError
from core.forms import TenantScopedModelForm


class OpenAccountForm(TenantScopedModelForm):
    """The add page: the fields `open_account` takes; reference and number are assigned."""

    class Meta:
        model = Account
        fields = ["customer", "product", "currency", "overdraft_limit"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product"].required = True  # blank only for internal accounts
        tenant = get_current_tenant()
        if tenant is not None and not self.is_bound:
            self.initial.setdefault("currency", tenant.default_currency)

    def clean(self):
        """The rules of opening, as `open_account` checks them again, as field errors."""
        cleaned = super().clean()
        customer = cleaned.get("customer")
        if customer is not None:
            try:
                rules.check_customer_can_open(customer)
            except ServiceError as refusal:
                self.add_error("customer", str(refusal))
        if cleaned.get("currency") and cleaned.get("product"):
            try:
                cleaned["overdraft_limit"] = rules.clean_overdraft_limit(
                    cleaned.get("overdraft_limit"),
                    currency=cleaned["currency"],
                    product=cleaned["product"],
                )
            except ValidationError as error:
                self.add_error(None, error)
        return cleaned


class AccountChangeForm(TenantScopedModelForm):
    """An open account's page: only the overdraft limit is staff-editable."""

    class Meta:
        model = Account
        fields = ["overdraft_limit"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:  # 250.00, not the column's 250.0000
            limit = self.instance.overdraft_limit
            self.initial["overdraft_limit"] = currencies.quantize(limit, self.instance.currency)

    def clean_overdraft_limit(self):
        try:
            return rules.clean_overdraft_limit(
                self.cleaned_data.get("overdraft_limit"),
                currency=self.instance.currency,
                product=self.instance.product,
            )
        except ValidationError as error:
            raise ValidationError(error.message_dict["overdraft_limit"]) from None

    def changes(self):
        return {name: self.cleaned_data[name] for name in self.changed_data}


class MoneyMovementForm(forms.Form):
    """A deposit or a withdrawal on the account whose page it was opened from.

    `idempotency_key` is drawn when the form is first shown: submitting the same page twice
    (a double click, a resent POST) returns the first movement instead of posting again.
    """

    amount = forms.DecimalField(max_digits=20)  # the column's size; the currency's places below
    description = forms.CharField(max_length=255, required=False)
    value_date = forms.DateField(
        required=False, widget=AdminDateWidget, help_text="Leave blank for today."
    )
    external_reference = forms.CharField(
        max_length=64, required=False, help_text="E.g. the payment's reference at the other bank."
    )
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, account, **kwargs):
        super().__init__(*args, **kwargs)
        self.account = account
        self.initial.setdefault("idempotency_key", f"admin-{uuid.uuid4()}")
        self.fields["amount"].help_text = f"In {account.currency}, e.g. 250.00."

    def clean(self):
        cleaned = super().clean()
        if "amount" in cleaned:
            try:
                cleaned["amount"] = rules.clean_amount(
                    cleaned["amount"], self.account.currency, written=True
                )
            except ValidationError as error:
                self.add_error(None, error)  # names the amount field
        return cleaned


class TransferForm(MoneyMovementForm):
    """A transfer from the account whose page it was opened from to another of the bank's
    customer accounts, chosen by autocomplete (reference, number or customer name)."""

    field_order = ["to_account", "amount", "description", "value_date", "external_reference"]

    def __init__(self, *args, account, **kwargs):
        super().__init__(*args, account=account, **kwargs)
        self.fields["to_account"] = forms.ModelChoiceField(
            queryset=Account.objects.customer_accounts().exclude(pk=account.pk),
            # The widget searches accounts through the account admin (AccountAdmin.search_fields).
            widget=AutocompleteSelect(Posting._meta.get_field("account"), admin.site),
            label="To account",
        )
        self.order_fields(self.field_order)


class ReversalForm(forms.Form):
    description = forms.CharField(
        max_length=255,
        required=False,
        help_text="Why it is reversed; blank: “Reversal of <kind> <journal id>”.",
    )
