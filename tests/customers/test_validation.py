import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from customers.forms import CustomerForm
from customers.rules import check_date_of_birth, years_between
from tests.customers.factories import BusinessFactory, CustomerFactory

ADULT = "1990-05-01"


def individual(**overrides):
    data = {
        "type": "individual",
        "first_name": "Jane",
        "last_name": "Doe",
        "date_of_birth": ADULT,
        "email": "jane@example.com",
        "phone": "+44 20 7946 0958",
        "national_id": "AB123456C",
        "address_country": "gb",
        "risk_rating": "low",
    }
    return {**data, **overrides}


def business(**overrides):
    return {"type": "business", "legal_name": "Acme Ltd", "risk_rating": "low", **overrides}


def errors_of(data, instance=None):
    form = CustomerForm(data=data, instance=instance)
    form.is_valid()
    return form.errors


def test_valid_individual_is_accepted_and_normalised(in_tenant):
    form = CustomerForm(data=individual(email="Jane@Example.COM"))
    assert form.is_valid(), form.errors
    assert form.cleaned_data["phone"] == "+442079460958"
    assert form.cleaned_data["address_country"] == "GB"
    assert form.cleaned_data["email"] == "jane@example.com"


def test_valid_business_is_accepted(in_tenant):
    assert not errors_of(business())


@pytest.mark.parametrize("field", ["first_name", "last_name", "date_of_birth"])
def test_individual_needs_names_and_birth_date(in_tenant, field):
    assert field in errors_of(individual(**{field: ""}))


def test_business_needs_legal_name(in_tenant):
    assert "legal_name" in errors_of(business(legal_name=" "))


def days_ago(days):
    """A date `days` before today; tests leave days of margin, so midnight passing while they
    run changes nothing."""
    return (timezone.localdate() - datetime.timedelta(days=days)).isoformat()


def test_business_has_no_date_of_birth_whatever_its_age(in_tenant):
    for founded in (ADULT, days_ago(3 * 365)):  # not "under 18": a business has no birthday
        errors = errors_of(business(date_of_birth=founded))
        assert errors == {"date_of_birth": ["A business has no date of birth."]}


@pytest.mark.parametrize(
    "data, field, message",
    [
        (business(first_name="Jane"), "first_name", "A business has no first name."),
        (business(last_name="Doe"), "last_name", "A business has no last name."),
        (individual(legal_name="Acme Ltd"), "legal_name", "An individual has no legal name."),
    ],
)
def test_fields_of_the_other_type_are_refused(in_tenant, data, field, message):
    assert errors_of(data) == {field: [message]}


def test_date_of_birth_in_the_future_is_refused(in_tenant):
    errors = errors_of(individual(date_of_birth=days_ago(-2)))
    assert "future" in errors["date_of_birth"][0]


def test_minor_is_refused_by_configurable_age(in_tenant, settings):
    seventeen_and_a_half = days_ago(17 * 365 + 180)
    errors = errors_of(individual(date_of_birth=seventeen_and_a_half))
    assert "at least 18" in errors["date_of_birth"][0]
    settings.CUSTOMER_MINIMUM_AGE = 16
    assert not errors_of(individual(date_of_birth=seventeen_and_a_half))


@pytest.mark.parametrize(
    "born, today, age",
    [
        (datetime.date(2008, 2, 29), datetime.date(2026, 2, 28), 17),
        (datetime.date(2008, 2, 29), datetime.date(2026, 3, 1), 18),
        (datetime.date(2008, 2, 29), datetime.date(2028, 2, 29), 20),
        (datetime.date(2010, 3, 1), datetime.date(2028, 2, 29), 17),
        (datetime.date(2010, 2, 28), datetime.date(2028, 2, 29), 18),
    ],
)
def test_age_on_and_around_29_february(born, today, age):
    assert years_between(born, today) == age
    if age < 18:
        with pytest.raises(ValidationError, match="at least 18"):
            check_date_of_birth(born, today=today)
    else:
        check_date_of_birth(born, today=today)


def test_implausibly_old_is_refused(in_tenant):
    assert "date_of_birth" in errors_of(individual(date_of_birth="1850-01-01"))


@pytest.mark.parametrize("email", ["not-an-email", "a@", "@b.com"])
def test_invalid_email_is_refused(in_tenant, email):
    assert "email" in errors_of(individual(email=email))


def test_email_is_unique_per_tenant_among_live_customers(in_tenant, other_tenant):
    taken = CustomerFactory(tenant=in_tenant, email="jane@example.com")
    assert "already" in errors_of(individual(email="JANE@example.com"))["email"][0]
    taken.soft_delete(by="user:test")
    assert not errors_of(individual(email="jane@example.com"))


def test_same_email_in_another_tenant_is_fine(in_tenant, other_tenant):
    CustomerFactory(tenant=other_tenant, email="jane@example.com")
    assert not errors_of(individual())


def test_own_email_does_not_collide_on_update(in_tenant):
    customer = CustomerFactory(tenant=in_tenant, email="jane@example.com")
    assert not errors_of(individual(), instance=customer)


@pytest.mark.parametrize(
    "typed, stored",
    [
        ("+44 20 7946 0958", "+442079460958"),
        ("020 7946 0958", "+442079460958"),  # national, in DEFAULT_PHONE_REGION (GB)
        ("(020) 7946-0958", "+442079460958"),
        ("+31 6 12345678", "+31612345678"),
        ("0044 20 7946 0958", "+442079460958"),
    ],
)
def test_phone_is_parsed_and_stored_as_e164(in_tenant, typed, stored):
    form = CustomerForm(data=individual(phone=typed))
    assert form.is_valid(), form.errors
    assert form.cleaned_data["phone"] == stored


@pytest.mark.parametrize("phone", ["+0 20", "+44abc", "+1234", "+44 20 7946", "123"])
def test_invalid_phone_is_refused(in_tenant, phone):
    assert "phone number" in errors_of(individual(phone=phone))["phone"][0]


def test_default_phone_region_decides_national_numbers(in_tenant, settings):
    settings.DEFAULT_PHONE_REGION = "NL"
    form = CustomerForm(data=individual(phone="06 12345678"))
    assert form.is_valid(), form.errors
    assert form.cleaned_data["phone"] == "+31612345678"
    settings.DEFAULT_PHONE_REGION = ""
    assert "country code" in errors_of(individual(phone="06 12345678"))["phone"][0]
    assert not errors_of(individual(phone="+31 6 12345678"))


@pytest.mark.parametrize("country", ["XX", "UK", "GBR", "1", "ß", "\u0131t", "g\u0130"])
def test_country_must_be_iso_alpha2(in_tenant, country):
    """Upper-casing is ASCII only: 'ß' does not become 'SS', nor a dotless-i 'it' 'IT'."""
    assert errors_of(individual(address_country=country)) == {
        "address_country": ["Enter an ISO 3166-1 alpha-2 country code, e.g. GB or DE."]
    }


@pytest.mark.parametrize("country, stored", [("gb", "GB"), ("De", "DE"), (" fr ", "FR")])
def test_country_code_is_upper_cased(in_tenant, country, stored):
    form = CustomerForm(data=individual(address_country=country))
    assert form.is_valid(), form.errors
    assert form.cleaned_data["address_country"] == stored


def test_admin_offers_countries_by_name(in_tenant):
    choices = dict(CustomerForm().fields["address_country"].widget.choices)
    assert choices["GB"] == "United Kingdom" and choices["DE"] == "Germany"
    assert len(choices) == 250  # every ISO 3166-1 country, and "none"


@pytest.mark.parametrize(
    "name",
    [
        "\u200b",  # zero-width space (Cf)
        "\u200b\u200d\ufeff",  # zero-width space, joiner, byte-order mark
        "\u00a0\u2003",  # no-break and em spaces (Zs)
        "\u3164",  # Hangul filler
        "\u2800",  # Braille blank
        "\ufe0f\u034f",  # variation selector-16, combining grapheme joiner
        "\u180b\u17b4\u17b5",  # Mongolian free variation selector, Khmer inherent vowels
        "\U000e0100",  # variation selector-17
        "  ",
    ],
)
def test_name_of_only_invisible_characters_is_refused(in_tenant, name):
    assert errors_of(individual(first_name=name)) == {"first_name": ["Required for an individual."]}
    assert errors_of(business(legal_name=name)) == {"legal_name": ["Required for a business."]}


@pytest.mark.parametrize("name", ["Jane\nDoe", "Jane\r", "Ja\tne", "Jane\u2028", "Ja\x07ne"])
def test_control_characters_and_line_breaks_in_names_are_refused(in_tenant, name):
    message = "A name is one line of text, without control characters."
    assert errors_of(individual(last_name=name)) == {"last_name": [message]}


def test_invisible_characters_around_a_name_are_trimmed(in_tenant):
    form = CustomerForm(data=individual(first_name="\u200bJane\u00a0"))
    assert form.is_valid(), form.errors
    assert form.cleaned_data["first_name"] == "Jane"
    form = CustomerForm(data=individual(last_name="Zoë\u200d"))  # a joiner inside stays
    assert form.is_valid() and form.cleaned_data["last_name"] == "Zoë"


def test_type_cannot_change(in_tenant):
    customer = CustomerFactory(tenant=in_tenant)
    assert errors_of(individual(), instance=BusinessFactory(tenant=in_tenant))["type"] == [
        "The type of an existing customer cannot change."
    ]
    assert "type" in errors_of(business(), instance=customer)
