"""What stops a customer from being closed or deleted, asked of the apps that know.

`customers` cannot import `accounts` or `lending` (they depend on it), so those apps register a
check here from their AppConfig.ready(): a function taking the customer and returning a list of
human-readable reasons ("account ACC-000012 is still open"). No reasons: nothing blocks.
"""

_checks = []


def register_closure_check(check):
    """Register `check(customer) -> list[str]`; usable as a decorator."""
    if check not in _checks:
        _checks.append(check)
    return check


def unregister_closure_check(check):
    if check in _checks:
        _checks.remove(check)


def closure_blockers(customer):
    reasons = []
    for check in _checks:
        reasons.extend(check(customer))
    return reasons
