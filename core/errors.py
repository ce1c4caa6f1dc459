"""Refusals raised by services. The API answers them as problem+json; the admin as a message."""


class ServiceError(Exception):
    status = 422
    code = "business-rule"


class ConflictError(ServiceError):
    """The object's state does not allow this: an illegal transition, or a state elsewhere
    that blocks it (a customer with open accounts cannot be closed or deleted)."""

    status = 409
    code = "conflict"


class RuleViolation(ServiceError):
    """A business rule refused the request (insufficient funds, a frozen account)."""

    status = 422
    code = "business-rule"
