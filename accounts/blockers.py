"""What stops an account from being closed, asked of the apps that know (as
`customers.blockers` does for customers).

`accounts` cannot import `lending` (it depends on accounts), so lending registers a check here
from its AppConfig.ready(): a function taking the account and returning a list of
human-readable reasons ("loan LN-000003 is active"). No reasons: nothing blocks.
"""

_checks = []


def register_closure_check(check):
    """Register `check(account) -> list[str]`; usable as a decorator."""
    if check not in _checks:
        _checks.append(check)
    return check


def unregister_closure_check(check):
    if check in _checks:
        _checks.remove(check)


def closure_blockers(account):
    reasons = []
    for check in _checks:
        reasons.extend(check(account))
    return reasons
