"""Domain refusals raised by services and selectors. They know nothing of HTTP: the partner API
maps each class to a status (`core.api.problems.DOMAIN_ERRORS`), the admin shows the message on
the same page."""


class ServiceError(Exception):
    """Base of every domain refusal; the message names what refused and why."""


class NotFound(ServiceError):
    """No such object here (also: it belongs to another tenant)."""


class Conflict(ServiceError):
    """The object's state does not allow this: an illegal transition, or a state elsewhere
    that blocks it (a customer with open accounts cannot be closed or deleted)."""


class IdempotencyKeyReused(Conflict):
    """The idempotency key of this request already served another one (a journal's key, kept
    for good, named a different movement)."""


class Forbidden(ServiceError):
    """The object and its state allow this, but not by this actor (the four-eyes rule: who
    submitted a loan application does not decide it)."""


class RuleViolation(ServiceError):
    """A business rule refused the request (KYC not verified, insufficient funds)."""


# The name this error had before it lost its HTTP status; kept so code written against it
# (other apps' branches) still imports.
ConflictError = Conflict
