"""What `audit` listens to: every history row, explicit events from core and the domains, and
staff logins. Connected in `AuditConfig.ready()`; `disconnect()` exists for the benchmark that
measures what the trail costs."""

import functools

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_login_failed
from simple_history.signals import post_create_historical_record

from audit.services import record_event, resource_id_of, resource_of
from core.context import system_scope
from core.history import HistoryContext, declared_changes
from core.models import Tenant
from core.signals import audit_event

EMPTY = (None, "", [], {})


@functools.cache
def _previous_row_sql(historical_model):
    """SQL reading the compared columns of an object's history row before a given one
    (parameters: the row's history id, then the object's pk). Built by the ORM once per
    model: building it on every write cost more than the database's answer."""
    pk_name = historical_model.instance_type._meta.pk.attname
    query = (
        historical_model._base_manager.filter(history_id__lt=0)
        .filter(**{pk_name: 0})
        .order_by("-history_id")
        .only(*(field.attname for field in historical_model.tracked_fields))[:1]
    )
    sql, _params = query.query.sql_with_params()
    return sql


def _previous_row(history_instance):
    """The history row of the same object before `history_instance` (None if none is left)."""
    model = type(history_instance)
    pk = getattr(history_instance, model.instance_type._meta.pk.attname)
    # A raw queryset still applies the fields' conversions from the database.
    rows = model._base_manager.raw(_previous_row_sql(model), [history_instance.history_id, pk])
    return next(iter(rows), None)


def record_history_row(sender, instance, history_instance, **kwargs):
    """One event per history row, with the fields it changed against the previous row."""
    if not isinstance(history_instance, HistoryContext):
        return
    model = history_instance.instance_type
    older = None
    if history_instance.history_type != "+":
        older = _previous_row(history_instance)
    changes = {
        field.attname: [old, new]
        for field, (old, new) in declared_changes(older, history_instance).items()
        if older is not None or new not in EMPTY  # a creation lists the fields it filled
    }
    related = []
    for name in getattr(model, "history_related", ()):
        target = getattr(instance, name, None)
        if target is not None:
            related.append(resource_of(target))
    tenant_id = (
        instance.pk if isinstance(instance, Tenant) else getattr(instance, "tenant_id", None)
    )
    record_event(
        action=history_instance.action,
        resource_type=model._meta.label_lower,
        resource_id=resource_id_of(instance),
        changes=changes,
        related=related,
        tenant_id=tenant_id,
        actor=history_instance.actor,
        occurred_at=history_instance.history_date,
    )


def record_explicit_event(sender, signal=None, **event):
    record_event(**event)


def _user_tenant_id(username):
    row = (
        get_user_model()
        ._default_manager.filter(**{get_user_model().USERNAME_FIELD: username})
        .values_list("staff_membership__tenant_id", flat=True)
        .first()
    )
    return row


def _record_login_event(action, username, actor):
    """Logins happen before any tenant is chosen: the event goes to the user's bank's chain
    (the platform's for a superuser or an unknown name), written in explicit system scope."""
    username = str(username or "")[:100]
    with system_scope():
        record_event(
            action=action,
            resource_type="auth.user",
            resource_id=username,
            tenant_id=_user_tenant_id(username),
            actor=actor,
        )


def record_login(sender, request, user, **kwargs):
    _record_login_event("login", user.get_username(), f"user:{user.get_username()}")


def record_login_failure(sender, credentials, request=None, **kwargs):
    _record_login_event("login_failed", credentials.get("username"), "anonymous")


def record_lockout(sender, request=None, username=None, **kwargs):
    _record_login_event("lockout", username, "anonymous")


def _connections():
    pairs = [
        (post_create_historical_record, record_history_row),
        (audit_event, record_explicit_event),
        (user_logged_in, record_login),
        (user_login_failed, record_login_failure),
    ]
    if apps.is_installed("axes"):  # django-axes locks accounts out after failed logins
        from axes.signals import user_locked_out

        pairs.append((user_locked_out, record_lockout))
    return pairs


def connect():
    for signal, receiver in _connections():
        signal.connect(receiver, dispatch_uid=f"audit.{receiver.__name__}")


def disconnect():
    for signal, receiver in _connections():
        signal.disconnect(receiver, dispatch_uid=f"audit.{receiver.__name__}")
