"""Bases for every ModelAdmin of tenant data."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.translation import ngettext
from simple_history.admin import SimpleHistoryAdmin

from core.context import in_system_scope
from core.errors import ServiceError
from core.forms import TenantScopedModelForm

HISTORY_COLUMNS = ["action", "actor", "ip_address", "request_id"]


class HistoryAdmin(SimpleHistoryAdmin):
    """Every object's history page shows who (actor), what (action) and from where (IP)."""

    history_list_display = HISTORY_COLUMNS


class TenantScopedAdmin(HistoryAdmin):
    """Querysets and foreign-key choices follow the current tenant (set by the middleware from
    the staff user's membership). A superuser without membership works in system scope: the
    tenant is then shown, filterable and chosen explicitly."""

    form = TenantScopedModelForm

    def get_list_display(self, request):
        columns = list(super().get_list_display(request))
        if in_system_scope() and "tenant" not in columns:
            columns.insert(1, "tenant")
        return columns

    def get_list_filter(self, request):
        filters = list(super().get_list_filter(request))
        if in_system_scope() and "tenant" not in filters:
            filters.insert(0, "tenant")
        return filters

    def get_exclude(self, request, obj=None):
        exclude = list(super().get_exclude(request, obj) or [])
        if not in_system_scope():
            exclude.append("tenant")
        return exclude

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None and in_system_scope() and "tenant" not in readonly:
            readonly.append("tenant")  # rows never move between tenants
        return readonly


class DeletedFilter(admin.SimpleListFilter):
    title = "deleted"
    parameter_name = "deleted"

    def lookups(self, request, model_admin):
        return [("live", "Live"), ("deleted", "Deleted"), ("all", "All")]

    def choices(self, changelist):
        # "Live" is the default, so the unfiltered choice is labelled as such.
        for value, label in self.lookup_choices:
            selected = self.value() == value or (self.value() is None and value == "live")
            yield {
                "selected": selected,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }

    def queryset(self, request, queryset):
        value = self.value() or "live"
        if value == "live":
            return queryset.filter(deleted_at__isnull=True)
        if value == "deleted":
            return queryset.filter(deleted_at__isnull=False)
        return queryset


class SoftDeleteAdminMixin:
    """Staff soft-delete and restore; nobody hard-deletes from the back office.

    Override `soft_delete_object` / `restore_object` to route through a domain service.
    """

    actions = ["soft_delete_selected", "restore_selected"]

    def get_queryset(self, request):
        match = getattr(request, "resolver_match", None)
        if match is not None and match.url_name == "autocomplete":
            return super().get_queryset(request)  # never offer a deleted row as a choice
        queryset = self.model.all_objects.get_queryset()
        ordering = self.get_ordering(request)
        return queryset.order_by(*ordering) if ordering else queryset

    def get_list_filter(self, request):
        return [*super().get_list_filter(request), DeletedFilter]

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_delete_permission(self, request, obj=None):
        return False

    def soft_delete_object(self, request, obj):
        obj.soft_delete(by=request.user)

    def restore_object(self, request, obj):
        obj.restore(by=request.user)

    def _apply(self, request, queryset, operation, verb):
        done, refused = 0, []
        for obj in queryset:
            try:
                operation(request, obj)
                done += 1
            except (ServiceError, ValidationError) as error:  # the refusal names the blocker
                refused.append(f"{obj}: {error}")
        if done:
            self.message_user(
                request,
                ngettext(f"{verb} %d row.", f"{verb} %d rows.", done) % done,
                messages.SUCCESS,
            )
        for message in refused:
            self.message_user(request, message, messages.ERROR)

    @admin.action(description="Soft delete selected rows")
    def soft_delete_selected(self, request, queryset):
        self._apply(
            request,
            queryset.filter(deleted_at__isnull=True),
            self.soft_delete_object,
            "Soft-deleted",
        )

    @admin.action(description="Restore selected rows")
    def restore_selected(self, request, queryset):
        self._apply(
            request, queryset.filter(deleted_at__isnull=False), self.restore_object, "Restored"
        )

    @admin.display(description="deleted", boolean=True)
    def is_deleted(self, obj):
        return obj.is_deleted
