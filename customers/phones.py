"""Phone numbers as people type them, and as we store them (E.164)."""

import re

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_PUNCTUATION = re.compile(r"[\s().-]")


def normalise_phone(value):
    """A phone number without the spaces, dots, dashes and brackets people type."""
    return _PUNCTUATION.sub("", value)
