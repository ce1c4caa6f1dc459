"""The lending back office's forms: products, loan applications, and the staff forms of a loan
(a repayment, a rejection's reason, collateral).

They parse what staff typed; every business rule (limits, statuses, four-eyes, currencies) is
checked by `lending.services`, whose refusal comes back as an error on the same form.
"""

import uuid
from itertools import permutations

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AdminDateWidget, AutocompleteSelect

from accounts.currencies import format_amount
from core.context import get_current_tenant
from core.forms import TenantScopedModelForm
from lending import rules, services
from lending.models import COMPONENTS, Collateral, Loan, LoanProduct


def allocation_label(order):
    """["penalties", "fees", "interest", "principal"] -> "penalties → fees → interest → …"."""
    return " → ".join(order or [])


# Every order of the four parts, each readable as staff choose it.
ALLOCATION_CHOICES = [
    (",".join(order), allocation_label(order)) for order in permutations(COMPONENTS)
]


class LoanProductForm(TenantScopedModelForm):
    """A product's add and change page. The allocation order is one of the 24 orders of the
    four parts, shown as arrows; the frequencies are checkboxes."""

    allocation_order = forms.TypedChoiceField(
        choices=ALLOCATION_CHOICES,
        coerce=lambda value: value.split(","),
        initial=",".join(COMPONENTS),
        help_text="What a repayment pays first, on each installment from the oldest.",
    )
    repayment_frequencies = forms.MultipleChoiceField(
        choices=Loan._meta.get_field("repayment_frequency").choices,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = LoanProduct
        fields = list(rules.PRODUCT_FIELDS)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.initial["allocation_order"] = ",".join(self.instance.allocation_order)
        elif (tenant := get_current_tenant()) is not None:
            self.initial.setdefault("currency", tenant.default_currency)

    def changes(self):
        return {name: self.cleaned_data[name] for name in self.changed_data}


class LoanApplicationForm(TenantScopedModelForm):
    """The add page of a loan: an application (`apply_for_loan`), pending approval."""

    class Meta:
        model = Loan
        fields = [
            "customer",
            "product",
            "account",
            "principal",
            "annual_interest_rate",
            "number_of_installments",
            "repayment_frequency",
            "start_date",
            "first_repayment_date",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["start_date"].required = False
        self.fields["first_repayment_date"].required = False
        self.fields["start_date"].help_text = "Blank: the day it is disbursed."

    def _post_clean(self):
        # The service checks the whole application (limits, KYC, account); the model's own
        # validation would report the same rules a second time, differently worded.
        pass


class RepaymentForm(forms.Form):
    """A repayment from the loan's deposit account. `idempotency_key` is drawn when the form
    is first shown, so a resubmitted page repays once."""

    amount = forms.DecimalField(max_digits=20)  # the currency's places: the service checks
    received_on = forms.DateField(
        required=False, widget=AdminDateWidget, help_text="Leave blank for today."
    )
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, loan, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial.setdefault("idempotency_key", f"admin-{uuid.uuid4()}")
        self.fields[
            "amount"
        ].help_text = f"In {loan.currency}, taken from account {loan.account.reference}."


class RepaymentReversalForm(forms.Form):
    """Reversing the loan's latest repayment still standing (repayments are reversed newest
    first): the staff member ticks what it will do."""

    confirm = forms.BooleanField(
        label="Reverse it",
        help_text="A reversal journal returns the money to the deposit account; the "
        "installments, and a schedule the repayment recomputed, are as they were before it; a "
        "loan it closed is active again.",
    )

    def __init__(self, *args, loan, **kwargs):
        super().__init__(*args, **kwargs)
        self.repayment = services.standing_repayments(loan).first()
        if self.repayment is None:
            self.fields["confirm"].label = "Nothing to reverse"
        else:
            self.fields["confirm"].label = (
                f"Reverse {format_amount(self.repayment.amount, loan.currency)} {loan.currency} "
                "received on "
                f"{self.repayment.received_on.isoformat()}"
            )

    def clean(self):
        cleaned = super().clean()
        if self.repayment is None:
            raise forms.ValidationError("This loan has no repayment to reverse.")
        cleaned["repayment"] = self.repayment
        return cleaned


class RejectionForm(forms.Form):
    reason = forms.CharField(
        max_length=255, widget=forms.Textarea(attrs={"rows": 3}), help_text="Kept with the loan."
    )


class CollateralForm(TenantScopedModelForm):
    """Collateral pledged for a loan (`add_collateral`); a guarantee names its guarantor."""

    def __init__(self, *args, loan, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial.setdefault("currency", loan.currency)

    class Meta:
        model = Collateral
        fields = ["type", "description", "value", "currency", "valuation_date", "guarantor"]
        widgets = {
            "valuation_date": AdminDateWidget,
            # Searched through the customer admin (name, reference).
            "guarantor": AutocompleteSelect(Collateral._meta.get_field("guarantor"), admin.site),
        }

    def _post_clean(self):
        pass  # the service checks it (the guarantor of a guarantee, the currency)


class DisbursementForm(forms.Form):
    """The disburse button's form: its idempotency key makes a double click disburse once."""

    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial.setdefault("idempotency_key", f"admin-{uuid.uuid4()}")


class ReportDateForm(forms.Form):
    """The date a read-only page reports on (`?on=`): the payoff and portfolio-at-risk pages."""

    on = forms.DateField(
        required=False, label="On", widget=AdminDateWidget, help_text="Blank: today."
    )
