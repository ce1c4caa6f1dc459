"""Soft delete: rows staff and partners "delete" are kept, marked, and can be restored."""

from django.db import models, transaction
from django.utils import timezone

from core.context import acting_as, actor_label
from core.history import HistoryAction, set_history_action
from core.models.base import TenantScopedModel
from core.scoping import TenantManager, TenantQuerySet


class SoftDeleteQuerySet(TenantQuerySet):
    def live(self):
        return self.filter(deleted_at__isnull=True)

    def deleted(self):
        return self.filter(deleted_at__isnull=False)

    def soft_delete(self, *, by=None):
        """Soft-delete every live row, one by one so each leaves its history row."""
        with transaction.atomic():
            rows = list(self.live().select_for_update())
            for row in rows:
                row.soft_delete(by=by)
        return len(rows)

    soft_delete.alters_data = True


class LiveManager(TenantManager.from_queryset(SoftDeleteQuerySet)):
    def get_queryset(self):
        return super().get_queryset().live()


class AllRowsManager(TenantManager.from_queryset(SoftDeleteQuerySet)):
    pass


class DeletedManager(TenantManager.from_queryset(SoftDeleteQuerySet)):
    def get_queryset(self):
        return super().get_queryset().deleted()


class SoftDeleteModel(TenantScopedModel):
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)
    deleted_by = models.CharField(max_length=150, blank=True, editable=False)

    objects = LiveManager()
    all_objects = AllRowsManager()
    deleted_objects = DeletedManager()

    class Meta:
        abstract = True

    @property
    def is_deleted(self):
        return self.deleted_at is not None

    def soft_delete(self, *, by=None, also_save=()):
        """Mark deleted (one history row, action soft_delete); `also_save` names other fields
        changed on the instance to record in the same save."""
        if self.is_deleted:
            return
        self.deleted_at = timezone.now()
        self.deleted_by = actor_label(by)
        set_history_action(self, HistoryAction.SOFT_DELETE)
        with acting_as(by):
            self.save(update_fields=["deleted_at", "deleted_by", "updated_at", *also_save])

    soft_delete.alters_data = True

    def restore(self, *, by=None):
        if not self.is_deleted:
            return
        self.deleted_at = None
        self.deleted_by = ""
        set_history_action(self, HistoryAction.RESTORE)
        with acting_as(by):
            self.save(update_fields=["deleted_at", "deleted_by", "updated_at"])

    restore.alters_data = True


def live_unique(*fields, name, condition=None):
    """A uniqueness rule among live rows only: a soft-deleted row never blocks a new one.

    `condition` narrows it further (e.g. only rows with an email).
    """
    live = models.Q(deleted_at__isnull=True)
    return models.UniqueConstraint(
        fields=fields, condition=live & condition if condition else live, name=name
    )
