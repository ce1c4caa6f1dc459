import datetime

import pytest
from django.utils import timezone

from customers.forms import CustomerForm
from tests.customers.factories import CustomerFactory

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


def test_business_has_no_date_of_birth(in_tenant):
    assert "date_of_birth" in errors_of(business(date_of_birth=ADULT))


def test_date_of_birth_in_the_future_is_refused(in_tenant):
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    assert "future" in errors_of(individual(date_of_birth=tomorrow.isoformat()))["date_of_birth"][0]


def test_minor_is_refused_by_configurable_age(in_tenant, settings):
    today = timezone.localdate()
    seventeen = today.replace(year=today.year - 17).isoformat()
    assert "at least 18" in errors_of(individual(date_of_birth=seventeen))["date_of_birth"][0]
    settings.CUSTOMER_MINIMUM_AGE = 16
    assert not errors_of(individual(date_of_birth=seventeen))


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


@pytest.mark.parametrize("phone", ["02079460958", "+0 20", "+44abc", "+1234"])
def test_phone_must_be_e164(in_tenant, phone):
    assert "E.164" in errors_of(individual(phone=phone))["phone"][0]


@pytest.mark.parametrize("country", ["XX", "UK", "GBR", "1"])
def test_country_must_be_iso_alpha2(in_tenant, country):
    assert "address_country" in errors_of(individual(address_country=country))


def test_type_cannot_change(in_tenant):
    customer = CustomerFactory(tenant=in_tenant)
    assert "type" in errors_of(business(), instance=customer)
