"""Refusals raised by services. The API answers them as problem+json; the admin as a message."""


class ServiceError(Exception):
    status = 422
    code = "business-rule"


class ConflictError(ServiceError):
    """The object's state does not allow this (an illegal transition, a duplicate)."""

    status = 409
    code = "conflict"


class RuleViolation(ServiceError):
    """A business rule refused the request (insufficient funds, open accounts block a close)."""

    status = 422
    code = "business-rule"
