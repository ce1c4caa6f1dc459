"""Input parsing of customers and relationships for the admin and the API: the forms read what
was sent and check it with `customers.rules`; the views then pass the cleaned data to a service."""

from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError

from core.countries import CountryCodeField
from core.forms import TenantScopedModelForm
from customers import rules
from customers.models import Customer, CustomerRelationship


class CustomerForm(TenantScopedModelForm):
    # Wider than the stored E.164 number: national formats, spaces and dashes are accepted.
    phone = forms.CharField(
        max_length=32,
        required=False,
        help_text="International (+44 20 7946 0958) or national in the default region "
        "(020 7946 0958); stored as E.164.",
    )
    phone.api_pattern = r"^\+?[0-9 ().-]*$"
    address_country = CountryCodeField(required=False, label="Country")

    risk_rating = forms.ChoiceField(
        choices=Customer.RiskRating.choices, required=False, help_text="Default: low."
    )

    api_nested = {"address": "address_"}

    class Meta:
        model = Customer
        fields = [
            "type",
            "first_name",
            "last_name",
            "legal_name",
            "email",
            "phone",
            "date_of_birth",
            "national_id",
            "address_line1",
            "address_line2",
            "address_city",
            "address_postal_code",
            "address_country",
            "risk_rating",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in rules.NAME_FIELDS:
            if name in self.fields:  # the rules trim names; a trailing CR/LF is refused, not cut
                self.fields[name].strip = False

    def clean_risk_rating(self):
        return self.cleaned_data["risk_rating"] or self.instance.risk_rating

    def clean(self):
        cleaned = super().clean()
        existing = self.instance if self.instance.pk else None
        sent = {k: v for k, v in cleaned.items() if k in rules.CUSTOMER_FIELDS}
        try:
            if existing is None:
                cleaned.update(rules.clean_customer(sent))
            else:
                stored = {name: getattr(existing, name) for name in rules.CUSTOMER_FIELDS}
                changed = set(self.changed_data) & set(sent)
                result = rules.clean_customer(
                    {**stored, **sent}, changed=changed, existing=existing
                )
                cleaned.update({name: result[name] for name in sent})
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                if field not in self.errors:
                    self.add_error(field, messages)
        return cleaned

    def changes(self):
        """What the service is to apply: every field of a new customer, the changed ones of
        an existing customer."""
        names = self.changed_data if self.instance.pk else self.fields
        return {name: self.cleaned_data[name] for name in names if name in self.cleaned_data}


class CustomerUpdateForm(CustomerForm):
    """PATCH: the same fields, plus the lifecycle states (applied through the services)."""

    status = forms.ChoiceField(choices=Customer.Status.choices, required=False)
    kyc_status = forms.ChoiceField(choices=Customer.KycStatus.choices, required=False)


class CustomerFilterForm(forms.Form):
    q = forms.CharField(
        max_length=200,
        required=False,
        help_text="Matches reference, names, email and phone (ranked); national id exactly.",
    )
    status = forms.ChoiceField(choices=Customer.Status.choices, required=False)
    kyc_status = forms.ChoiceField(choices=Customer.KycStatus.choices, required=False)
    type = forms.ChoiceField(choices=Customer.Type.choices, required=False)


class RelationshipForm(TenantScopedModelForm):
    """A role another customer holds towards `customer` (given, not a field)."""

    related_customer = forms.ModelChoiceField(
        queryset=Customer.objects.all(),
        to_field_name="reference",
        error_messages={"invalid_choice": "No customer with this reference."},
        help_text="The reference of the customer holding the role.",
    )

    class Meta:
        model = CustomerRelationship
        fields = ["type", "related_customer", "ownership_percentage", "started_on", "ended_on"]

    def __init__(self, *args, customer, **kwargs):
        super().__init__(*args, **kwargs)
        self.customer = customer
        self.instance.customer = customer

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            rules.check_relationship(
                customer=self.customer,
                related=cleaned.get("related_customer"),
                role=cleaned.get("type"),
                percentage=cleaned.get("ownership_percentage"),
                started_on=cleaned.get("started_on"),
                ended_on=cleaned.get("ended_on"),
                exclude_pk=self.instance.pk,
            )
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                self.add_error(field, messages)
        return cleaned


class BeneficialOwnerQueryForm(forms.Form):
    threshold = forms.DecimalField(
        min_value=Decimal("0.0001"),
        max_value=100,
        max_digits=7,
        decimal_places=4,
        required=False,
        help_text="Percent; owners at or above it are listed (default 25).",
    )
