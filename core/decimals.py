from decimal import Decimal


def plain_decimal(value: Decimal | None) -> str | None:
    """An exact decimal as a plain string without insignificant zeros: 37.5, 60, 0.0001."""
    if value is None:
        return None
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
