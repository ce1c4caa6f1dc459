"""Staff accounts in the audit trail: what a platform operator does to users and groups (a
user created, made superuser, given permissions or a new password, deleted; a group's
permissions; sessions ended, two-factor reset) is recorded like any other change.

Users and groups are Django's own models, without history rows, so the admin records each
write explicitly. An event about a user goes to the chain of the user's bank, as its logins
do (the platform's for a user of no bank); one about a group, to the platform's. Secrets are
never written: a password shows only that it changed.
"""

import datetime

from django.db.models import Model

from core.context import system_scope
from core.history import resource_id_of
from core.models import StaffMembership
from core.signals import emit_audit_event

# Form fields whose values are secrets: the event says only that they changed.
SECRET_FIELDS = frozenset({"password", "password1", "password2", "usable_password"})
CHANGED_SECRET = "[changed]"  # noqa: S105 (a placeholder shown instead of a secret)


def _shown(value):
    """A form value as the event keeps it: related objects and sets by name, sorted."""
    if isinstance(value, Model):
        return str(value)
    if isinstance(value, datetime.date):  # datetimes too
        return value.isoformat()
    if hasattr(value, "__iter__") and not isinstance(value, str | bytes | dict):
        return sorted(str(item) for item in value)
    return value


def form_changes(form):
    """{field: [old, new]} of what a submitted admin form changes, secrets masked."""
    changes = {}
    for name in form.changed_data:
        if name in SECRET_FIELDS:
            changes[name] = [CHANGED_SECRET, CHANGED_SECRET]
            continue
        old = _shown(form.initial.get(name)) if name in form.initial else None
        new = _shown(form.cleaned_data.get(name))
        if old != new:  # a widget may call a value changed that only round-tripped
            changes[name] = [old, new]
    return changes


def record_staff_change(obj, action, changes=None):
    """Record `action` ("create", "update", "delete", "password_change", "end_sessions",
    "reset_two_factor") on a user or group, by the acting staff member."""
    tenant = StaffMembership.tenant_of(obj) if obj._meta.label_lower == "auth.user" else None
    with system_scope():  # the platform's chain when the user has no bank
        emit_audit_event(
            action=action,
            resource_type=obj._meta.label_lower,
            resource_id=resource_id_of(obj),
            changes=changes,
            tenant=tenant,
        )
