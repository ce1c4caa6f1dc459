"""What `audit` listens to: every history row, explicit events from core and the domains, and
staff logins. Connected in `AuditConfig.ready()`; `disconnect()` exists for the benchmark that
measures what the trail costs."""

import functools
from types import SimpleNamespace

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db import connection
from simple_history.signals import post_create_historical_record

from audit.services import record_event
from core.context import system_scope
from core.history import HistoryContext, declared_changes, resource_id_of, resource_of
from core.models import Tenant
from core.signals import audit_event

EMPTY = (None, "", [], {})


@functools.cache
def _previous_row_reader(historical_model):
    """(SQL, attnames, converters per column) reading the compared columns of an object's
    history row before a given one (parameters: the row's history id, then the object's pk).
    Built by the ORM once per model: building the query, or even a raw queryset's model
    instances, on every write cost more than the database's answer."""
    pk_name = historical_model.instance_type._meta.pk.attname
    attnames = [field.attname for field in historical_model.tracked_fields]
    query = (
        historical_model._base_manager.filter(history_id__lt=0)
        .filter(**{pk_name: 0})
        .order_by("-history_id")
        .values_list(*attnames)[:1]
    )
    sql, _params = query.query.sql_with_params()
    converters = []
    for field in historical_model.tracked_fields:  # what the ORM applies to each column
        column = field.get_col(historical_model._meta.db_table)
        functions = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        converters.append((column, functions))
    return sql, attnames, converters


def _previous_row(history_instance):
    """The compared values of the same object's history row before `history_instance`, as
    attributes (None if no row is left)."""
    model = type(history_instance)
    sql, attnames, converters = _previous_row_reader(model)
    pk = getattr(history_instance, model.instance_type._meta.pk.attname)
    with connection.cursor() as cursor:
        cursor.execute(sql, [history_instance.history_id, pk])
        row = cursor.fetchone()
    if row is None:
        return None
    values = {}
    for attname, value, (column, column_converters) in zip(attnames, row, converters, strict=True):
        for convert in column_converters:
            value = convert(value, column, connection)
        values[attname] = value
    return SimpleNamespace(**values)


def record_history_row(sender, instance, history_instance, **kwargs):
    """One event per history row, with the fields it changed against the previous row."""
    if not isinstance(history_instance, HistoryContext):
        return
    model = history_instance.instance_type
    older = None
    if history_instance.history_type != "+":
        older = _previous_row(history_instance)
    changes = {
        field.name: [old, new]  # "customer": ["CUS-000001", "CUS-000002"], as partners name it
        for field, (old, new) in declared_changes(older, history_instance, instance).items()
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
