"""ISO 4217 currencies from Babel's CLDR data: which codes are legal tender today, and how many
decimal places (the minor unit) each one's amounts have. No hand-typed table."""

from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from functools import cache, lru_cache

from babel.core import get_global
from babel.numbers import get_currency_precision
from django.core.exceptions import ValidationError


@lru_cache(maxsize=1)
def _tender_on(day):
    codes = set()
    for entries in get_global("territory_currencies").values():
        for code, start, end, tender in entries:
            if (
                tender
                and (start is None or date(*start) <= day)
                and (end is None or day <= date(*end))
            ):
                codes.add(code)
    return frozenset(codes)


def current_codes():
    """The ISO 4217 codes some territory uses as legal tender today."""
    return _tender_on(date.today())


def validate_currency(code):
    """Refuse anything but the code of a currency in use today (historical codes, XAU, typos)."""
    if not isinstance(code, str) or code not in current_codes():
        raise ValidationError(
            f"{code!r} is not the ISO 4217 code of a currency in use, such as EUR.",
            code="invalid_currency",
        )


@cache
def minor_unit(code):
    """Decimal places of `code`'s amounts: 2 for EUR, 0 for JPY, 3 for BHD."""
    return get_currency_precision(code)


@cache
def _exponent(code):
    return Decimal(1).scaleb(-minor_unit(code))


def quantize(amount, code):
    """`amount` rounded to `code`'s minor unit, half to even (banker's rounding)."""
    return Decimal(amount).quantize(_exponent(code), rounding=ROUND_HALF_EVEN)


def format_amount(amount, code):
    """`amount` as the API and statements write it: "250.50", JPY "250", never exponents."""
    return f"{quantize(amount, code):f}"


def parse_amount(value, code, *, field="amount", written=False):
    """A positive amount of `code` with at most its minor unit's places, as a Decimal quantized
    to them; anything else is a ValidationError on `field` (a float is refused: money is never
    binary floating point). `written`: `value` is as a client wrote it (a string, or a form's
    Decimal, which keeps the places written), so its written places count too."""
    if isinstance(value, (float, bool)) or value is None:
        raise ValidationError({field: 'Give the amount as a decimal string, such as "10.50".'})
    try:
        amount = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise ValidationError({field: 'Enter a decimal amount, such as "10.50".'}) from None
    if not amount.is_finite():
        raise ValidationError({field: 'Enter a decimal amount, such as "10.50".'})
    if amount <= 0:
        raise ValidationError({field: "The amount must be more than zero."})
    check_places(amount, code, field=field, written=written or isinstance(value, str))
    return quantize(amount, code)


def check_places(amount, code, *, field, written):
    """Refuse `amount` (ValidationError on `field`) with more decimal places than `code`'s minor
    unit: by value, and, for an amount as a client `written` it, as written too ("1.000" has
    three places for a currency of two, whatever it is worth; the contract refuses it)."""
    places = minor_unit(code)
    exact = amount == amount.quantize(_exponent(code), rounding=ROUND_HALF_EVEN)
    if not exact or (written and amount.as_tuple().exponent < -places):
        raise ValidationError(
            {field: f"{code} amounts have at most {places} decimal place{'s' * (places != 1)}."}
        )
