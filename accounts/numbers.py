"""Account numbers: digits whose last two are ISO 7064 MOD 97-10 check digits (as in IBAN),
which catch every single-digit error and every swap of two adjacent digits."""

from stdnum.iso7064 import mod_97_10

from core.references import take_numbers

BASE_DIGITS = 10
NUMBER_COUNTER = "ACCNO"


def with_check_digits(base):
    return base + mod_97_10.calc_check_digits(base)


def is_valid(number):
    return isinstance(number, str) and number.isdigit() and mod_97_10.is_valid(number)


def take_account_numbers(tenant_id, count=1):
    """The tenant's next `count` account numbers, from a per-tenant counter (so they never
    collide, whatever runs concurrently)."""

    def highest_in_use():
        from accounts.models import Account

        last = (
            Account._base_manager.filter(tenant_id=tenant_id)
            .order_by("-account_number")
            .values_list("account_number", flat=True)
            .first()
        )
        return int(last[:-2]) if last else 0

    return [
        with_check_digits(f"{value:0{BASE_DIGITS}d}")
        for value in take_numbers(
            tenant_id=tenant_id, counter=NUMBER_COUNTER, count=count, highest_in_use=highest_in_use
        )
    ]
