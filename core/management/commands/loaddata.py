"""`loaddata` in system scope, so fixtures can hold rows of any tenant, leaving history behind.

Fixture rows are saved raw, which django-simple-history does not record. So after loading,
every tracked row gets a baseline historical row (as simple-history's `populate_history` would
write) when it has none, and a row recording the change when the fixture changed it (reloading
the demo over a staff edit): the first edit then shows real old and new values, and no reload
rewrites data unseen.

A row already stored exactly as the fixture has it is not written again: reloading the demo
costs no needless UPDATEs, and rows that refuse any UPDATE (the ledger's journals and
postings, immutable down to a PostgreSQL trigger) reload too.

`bulk_history_create` sends none of simple-history's signals, so each row it writes is announced
with `post_create_historical_record`, as a save would: the audit trail records fixture loads as
it records every other write (actor `system:loaddata`, channel `command`).

`--if-empty` loads only into a database with no tenant yet (what `make run` uses).
"""

from collections import defaultdict

from django.core.management.commands import loaddata
from django.db import transaction
from django.db.models.signals import post_save
from simple_history.signals import post_create_historical_record

from core.history import HistoryAction, history_context
from core.management.base import SystemCommandMixin
from core.models import Tenant


class Command(SystemCommandMixin, loaddata.Command):
    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Load nothing, and say so, if the database already has tenants.",
        )

    def handle(self, *fixture_labels, if_empty=False, **options):
        if if_empty and Tenant.objects.exists():
            slugs = ", ".join(Tenant.objects.order_by("slug").values_list("slug", flat=True))
            self.stdout.write(
                f"Not loading {' '.join(fixture_labels)}: the database already has tenants "
                f"({slugs}), and their data, staff edits included, is kept. Run "
                f"'manage.py loaddata {' '.join(fixture_labels)}' to load it over them."
            )
            return
        loaded = defaultdict(dict)

        def collect(sender, instance, raw=False, **kwargs):
            if raw and _history_manager(sender) is not None:
                loaded[sender][instance.pk] = instance

        post_save.connect(collect, weak=False)
        try:
            with transaction.atomic(using=options.get("database")):
                super().handle(*fixture_labels, **options)
                recorded = sum(record_baseline_history(m, rows) for m, rows in loaded.items())
        finally:
            post_save.disconnect(collect)
        if recorded and options.get("verbosity", 1) > 0:
            self.stdout.write(f"Recorded {recorded} history row(s) for loaded rows.")

    def save_obj(self, obj):
        if stored_as_is(obj.object, self.using):
            if obj.deferred_fields:
                self.objs_with_deferred_fields.append(obj)
            return False
        return super().save_obj(obj)


def stored_as_is(instance, using):
    """Whether `instance` (a fixture row with its primary key known) is stored as it is."""
    if instance.pk is None:
        return False
    names = [field.attname for field in instance._meta.concrete_fields]
    stored = type(instance)._base_manager.using(using).filter(pk=instance.pk).values(*names)
    stored = stored.first()
    return stored is not None and all(stored[name] == getattr(instance, name) for name in names)


def _history_manager(model):
    name = getattr(model._meta, "simple_history_manager_attribute", None)
    return getattr(model, name) if name else None


def record_baseline_history(model, rows):
    """Write a historical row for each of `rows` (pk -> instance as loaded) that has none
    ("create"), or whose latest one differs from it ("update"). Return how many were written."""
    history = _history_manager(model)
    latest = {}
    for record in history.filter(id__in=list(rows)).order_by("id", "history_id"):
        latest[record.id] = record
    tracked = [f.attname for f in history.model.tracked_fields]
    created, changed = [], []
    for pk, instance in rows.items():
        previous = latest.get(pk)
        if previous is None:
            created.append(instance)
        elif any(getattr(previous, name) != getattr(instance, name) for name in tracked):
            changed.append(instance)
    context = history_context()
    for instances, update, action in (
        (created, False, HistoryAction.CREATE),
        (changed, True, HistoryAction.UPDATE),
    ):
        if instances:
            records = history.bulk_history_create(
                instances, update=update, custom_historical_attrs={**context, "action": action}
            )
            if records is None:  # SIMPLE_HISTORY_ENABLED is off: nothing written to announce
                continue
            for instance, record in zip(instances, records, strict=True):
                post_create_historical_record.send(
                    sender=history.model,
                    instance=instance,
                    history_instance=record,
                    history_date=record.history_date,
                    history_user=None,
                    history_change_reason=None,
                    using=record._state.db,
                )
    return len(created) + len(changed)
