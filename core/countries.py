"""Countries, from django-countries' maintained ISO 3166-1 list: codes are stored (alpha-2),
staff choose by name."""

from django import forms
from django.core.exceptions import ValidationError
from django_countries import countries

INVALID_COUNTRY = "Enter an ISO 3166-1 alpha-2 country code, e.g. GB or DE."


def normalise_country(value):
    """An alpha-2 code, upper-cased in ASCII only: 'gb' becomes 'GB', while 'ß' and a dotless
    i stay invalid instead of turning into 'SS' and 'IT'. "" for none; ValidationError if the
    code is unknown."""
    code = (value or "").strip()
    if not code:
        return ""
    if code.isascii():
        code = code.upper()
    if len(code) != 2 or code not in countries:
        raise ValidationError(INVALID_COUNTRY)
    return code


class CountryCodeField(forms.CharField):
    """A country: a drop-down of names in the admin, an alpha-2 code (any case) in the API."""

    api_pattern = r"^[A-Za-z]{2}$"

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 2)
        kwargs.setdefault("help_text", "ISO 3166-1 alpha-2, e.g. GB")
        super().__init__(widget=forms.Select(choices=self._choices), **kwargs)

    @staticmethod
    def _choices():
        return [("", "---------"), *((country.code, country.name) for country in countries)]

    def to_python(self, value):
        return normalise_country(super().to_python(value))
