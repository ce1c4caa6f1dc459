"""History context: every historical row says who changed what, from where, and how.

Every business model declares `history = tracked_history()`. The historical model then carries,
besides the copied fields (the tenant among them), the actor, channel, request id, IP address,
user agent and action, filled from the current request or command context for every row.

A model may also declare, for the history views and the audit trail:
- `history_masked_fields = {"national_id": mask}`: values only ever shown through `mask`;
- `history_hidden_fields = {"search_name"}`: derived columns left out of diffs;
- `history_related = ("customer",)`: foreign keys naming the objects whose history this
  object's changes belong to as well (a relationship's changes show in its customer's history);
- `AUDIT_ID_FIELD = "public_id"`: the field that names it in the audit trail, when that is not
  its `reference` (`resource_id_of`).
"""

import datetime

from django.db import models
from django.dispatch import receiver
from simple_history.models import HistoricalRecords
from simple_history.signals import pre_create_historical_record

from core.context import get_request_info


class HistoryAction(models.TextChoices):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    SOFT_DELETE = "soft_delete"
    RESTORE = "restore"


_ACTION_BY_HISTORY_TYPE = {
    "+": HistoryAction.CREATE,
    "~": HistoryAction.UPDATE,
    "-": HistoryAction.DELETE,
}


class HistoryContext(models.Model):
    """Abstract base of every historical model."""

    actor = models.CharField(max_length=150, blank=True, db_index=True)
    request_id = models.CharField(max_length=128, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    channel = models.CharField(max_length=16, blank=True)
    action = models.CharField(max_length=16, choices=HistoryAction.choices)

    class Meta:
        abstract = True


def _current_user(instance=None, request=None, **kwargs):
    return get_request_info().user


class TrackedHistoricalRecords(HistoricalRecords):
    """Every write reads the object's previous history row (the audit trail's diff), and the
    history pages and `?as_of=` read its rows: all by the object's id, through one index on
    (id, history_id) instead of simple-history's index on id alone, which left every read
    sorting all of the object's rows, so that a write cost more the longer its history. The
    id leads, not the tenant: it names one object of one tenant, and the diff's query has no
    tenant filter of its own to match."""

    def get_meta_options(self, model):
        options = super().get_meta_options(model)
        by_object = models.Index(fields=[model._meta.pk.attname, "history_id"])
        options["indexes"] = [*options.get("indexes", ()), by_object]
        return options


def tracked_history(**options):
    """HistoricalRecords with the Ledgerline context fields; pass simple-history options on."""
    return TrackedHistoricalRecords(
        bases=[HistoryContext], get_user=_current_user, no_db_index=["id"], **options
    )


def set_history_action(instance, action):
    """Make the next historical row of `instance` record `action` instead of create/update."""
    instance._history_action = action


def history_context():
    """Who writes a history row now and from where: HistoryContext's columns, from the current
    request or command (also for rows written in bulk, which no signal fills)."""
    info = get_request_info()
    return {
        "actor": info.actor or "system",
        "request_id": info.request_id,
        "ip_address": info.ip_address,
        "user_agent": info.user_agent[:512],
        "channel": info.channel,
    }


# The field whose value dates each kind of history row: a version is the object as its own
# timestamps show it, so `?as_of=` the `created_at` or `updated_at` an answer carried finds that
# very version (simple-history stamps the row with now(), just after the save set them).
_STAMP_BY_HISTORY_TYPE = {"+": "created_at", "~": "updated_at"}


@receiver(pre_create_historical_record)
def fill_history_context(sender, instance, history_instance, **kwargs):
    if not isinstance(history_instance, HistoryContext):
        return
    for name, value in history_context().items():
        setattr(history_instance, name, value)
    action = instance.__dict__.pop("_history_action", None)
    history_instance.action = action or _ACTION_BY_HISTORY_TYPE[history_instance.history_type]
    field = _STAMP_BY_HISTORY_TYPE.get(history_instance.history_type)  # none for a delete
    stamp = getattr(instance, field, None) if field else None
    if stamp is not None:
        history_instance.history_date = stamp


def changed_fields(older, newer, *, hidden=(), masked=None, instance=None):
    """{field: (old, new)} for every tracked field that differs between two historical rows of
    one object (`older` None: the row that created it). Fields in `hidden` are left out; values
    of fields in `masked` ({name: function}) are shown only through their function; a foreign
    key's values name the objects it pointed to (`named_target`; `instance`: the live object,
    whose loaded relations spare a query)."""
    masked = masked or {}
    changes = {}
    for field in newer.tracked_fields:
        if field.name in hidden or field.primary_key:
            continue
        old = getattr(older, field.attname) if older is not None else None
        new = getattr(newer, field.attname)
        if old == new:
            continue
        mask = masked.get(field.name)
        if mask is not None:
            old, new = (mask(v) if v is not None else None for v in (old, new))
        elif field.is_relation:
            old, new = (named_target(field, v, instance) for v in (old, new))
        changes[field] = (old, new)
    return changes


def named_target(field, pk, instance=None):
    """The object foreign key `field` points to by `pk`, named as the audit trail names objects
    (`resource_id_of`: CUS-000013, never the database id 15); the pk itself only when that
    object is gone. `instance`: an object whose loaded relation may be that object."""
    if pk is None:
        return None
    target = field.get_cached_value(instance, None) if instance is not None else None
    if target is None or target.pk != pk:
        target = field.related_model._base_manager.filter(pk=pk).first()
    return resource_id_of(target) if target is not None else pk


# Bookkeeping columns no auditor needs in a diff.
ALWAYS_HIDDEN = frozenset({"updated_at", "tenant"})


def declared_changes(older, newer, instance=None):
    """`changed_fields` with what the model declares hidden and masked (see the module doc)."""
    model = newer.instance_type
    hidden = ALWAYS_HIDDEN | set(getattr(model, "history_hidden_fields", ()))
    return changed_fields(
        older,
        newer,
        hidden=hidden,
        masked=getattr(model, "history_masked_fields", {}),
        instance=instance,
    )


def covering(when):
    """The last instant `when` stands for. The API writes timestamps to the millisecond, so a
    moment given to the millisecond covers all of it: `as_of` the `updated_at` an answer
    carried then finds the version that answer described, saved microseconds into it."""
    if when.microsecond % 1000 == 0:
        return when + datetime.timedelta(microseconds=999)
    return when


def version_as_of(model, *, pk, when):
    """The object with primary key `pk` as it was at `when` (an instance rebuilt from its
    history; `covering(when)`), or None if it did not exist then or had been deleted (soft or
    hard)."""
    row = (
        model.history.filter(id=pk, history_date__lte=covering(when))
        .order_by("-history_date", "-history_id")
        .first()
    )
    if row is None or row.history_type == "-" or getattr(row, "deleted_at", None):
        return None
    return row.instance


# Django's own models, which cannot declare AUDIT_ID_FIELD: named as their admin pages name them.
AUDIT_ID_FIELDS = {"auth.user": "username", "auth.group": "name"}


def resource_id_of(obj):
    """How the audit trail names an object: by the id people and partners know it by, the
    field its model names in `AUDIT_ID_FIELD` (a hold's or collateral's UUID, a relationship's
    number, a partner key's prefix, a bank's slug; a user's username), else its per-tenant
    `reference`; its pk only when it has neither (platform rows such as staff memberships)."""
    field = AUDIT_ID_FIELDS.get(obj._meta.label_lower)
    field = field or getattr(obj, "AUDIT_ID_FIELD", "reference")
    return getattr(obj, field, None) or obj.pk


def resource_of(obj):
    """`<app>.<model>:<id>`: how events name an object among their related ones."""
    return f"{obj._meta.label_lower}:{resource_id_of(obj)}"
