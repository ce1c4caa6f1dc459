"""The one place customer input is validated: the admin and the API use these forms."""

from decimal import Decimal

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from core.countries import ISO_3166_ALPHA2
from core.forms import TenantScopedModelForm
from customers.models import Customer, CustomerRelationship
from customers.phones import E164, normalise_phone
from customers.rules import check_relationship

OLDEST_PLAUSIBLE_AGE = 130


def years_between(born, today):
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


class CustomerForm(TenantScopedModelForm):
    # Wider than the stored E.164 number: spaces and dashes are accepted, then removed.
    phone = forms.CharField(max_length=32, required=False, help_text="E.164, e.g. +442079460958")
    phone.api_pattern = r"^\+?[0-9 ().-]*$"

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

    def clean_type(self):
        value = self.cleaned_data["type"]
        if self.instance.pk and value != self.instance.type:
            raise ValidationError("The type of an existing customer cannot change.")
        return value

    def clean_email(self):
        email = self.cleaned_data["email"].strip().lower()
        if email:
            taken = Customer.objects.filter(email=email).exclude(pk=self.instance.pk)
            if taken.exists():
                raise ValidationError("Another customer already has this email address.")
        return email

    def clean_phone(self):
        phone = normalise_phone(self.cleaned_data["phone"])
        if phone and not E164.match(phone):
            raise ValidationError(
                "Enter the number in E.164 form: '+', country code, number; e.g. +442079460958."
            )
        return phone

    def clean_address_country(self):
        country = self.cleaned_data["address_country"].strip().upper()
        if country and country not in ISO_3166_ALPHA2:
            raise ValidationError("Enter an ISO 3166-1 alpha-2 country code, e.g. GB or DE.")
        return country

    def clean_risk_rating(self):
        return self.cleaned_data["risk_rating"] or self.instance.risk_rating

    def clean_national_id(self):
        return self.cleaned_data["national_id"].strip()

    def clean_date_of_birth(self):
        born = self.cleaned_data["date_of_birth"]
        if born is None:
            return born
        today = timezone.localdate()
        if born > today:
            raise ValidationError("The date of birth cannot be in the future.")
        age = years_between(born, today)
        if age > OLDEST_PLAUSIBLE_AGE:
            raise ValidationError("This date of birth is not plausible.")
        if age < settings.CUSTOMER_MINIMUM_AGE:
            raise ValidationError(
                f"Customers must be at least {settings.CUSTOMER_MINIMUM_AGE} years old."
            )
        return born

    def clean(self):
        cleaned = super().clean()
        kind = cleaned.get("type")
        errors = {}
        if kind == Customer.Type.INDIVIDUAL:
            for field in ("first_name", "last_name"):
                if not cleaned.get(field, "").strip():
                    errors[field] = "Required for an individual."
            if not cleaned.get("date_of_birth") and "date_of_birth" not in self.errors:
                errors["date_of_birth"] = "Required for an individual."
        elif kind == Customer.Type.BUSINESS:
            if not cleaned.get("legal_name", "").strip():
                errors["legal_name"] = "Required for a business."
            if cleaned.get("date_of_birth"):
                errors["date_of_birth"] = "A business has no date of birth."
        for field, message in errors.items():
            self.add_error(field, message)
        return cleaned


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
            check_relationship(
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
