"""Phone numbers as people type them, and as we store them (E.164), parsed by `phonenumbers`
(Google's libphonenumber). A number without a country code is read as a national number of
`settings.DEFAULT_PHONE_REGION`."""

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError


def parse_phone(value, *, region=None):
    """The E.164 form of `value` ("" for none); ValidationError unless it is a valid number."""
    text = (value or "").strip()
    if not text:
        return ""
    region = region if region is not None else settings.DEFAULT_PHONE_REGION
    example = "+442079460958" if not region else f"+442079460958, or a national {region} number"
    try:
        number = phonenumbers.parse(text, region or None)
    except phonenumbers.NumberParseException:
        raise ValidationError(
            f"Enter a phone number: '+', country code, number (e.g. {example})."
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(f"This is not a valid phone number (e.g. {example}).")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_phone(value):
    """What a search term would be stored as: its E.164 form when it reads as a number (valid
    or not: search finds what is stored, it does not judge it), else the term itself."""
    region = settings.DEFAULT_PHONE_REGION or None
    try:
        number = phonenumbers.parse((value or "").strip(), region)
    except phonenumbers.NumberParseException:
        return value
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
