"""The auditor's view of the log: read-only, filterable, exportable as a streamed CSV."""

import csv
import json

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import StreamingHttpResponse
from django.urls import path
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from audit.models import AuditEvent, AuditEventLink
from audit.selectors import ordering_for
from core.api.pagination import keyset_after
from core.context import current_scope, system_scope, tenant_context

EXPORT_CHUNK = 2000
EXPORT_COLUMNS = [
    "id",
    "occurred_at",
    "action",
    "resource_type",
    "resource_id",
    "actor",
    "channel",
    "request_id",
    "ip_address",
    "user_agent",
    "changes",
    "previous_hash",
    "hash",
]


class RecentValuesFilter(admin.SimpleListFilter):
    """Choices from the newest events only: a DISTINCT over millions of rows would cost more
    than the page. Any value can still be filtered on through the URL."""

    sample = 2000
    field = None

    def lookups(self, request, model_admin):
        ordering = ordering_for(current_scope())
        recent = model_admin.get_queryset(request).order_by(*ordering)[: self.sample]
        values = sorted({value for value in recent.values_list(self.field, flat=True) if value})
        current = self.value()
        if current and current not in values:
            values.append(current)
        return [(value, value) for value in values]

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(**{self.field: value}) if value else queryset


class ResourceTypeFilter(RecentValuesFilter):
    title = "resource type"
    parameter_name = field = "resource_type"


class ActionFilter(RecentValuesFilter):
    title = parameter_name = field = "action"


class ActorFilter(RecentValuesFilter):
    title = parameter_name = field = "actor"


class AboutFilter(admin.SimpleListFilter):
    """`?about=customers.customer:CUS-000001`: the events of one object and of those that
    declare it related (its relationships, accounts, loans), through the link index. Reached
    from an object's History page; not listed in the sidebar."""

    title = "about"
    parameter_name = "about"

    def lookups(self, request, model_admin):
        value = self.value()
        return [(value, value)] if value else []

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        kind, _, ident = self.value().partition(":")
        if not (kind and ident):  # names no object: nothing is about it
            return queryset.none()
        links = AuditEventLink.objects.filter(resource_type=kind, resource_id=ident)
        return queryset.filter(id__in=links.values("event_id"))


class Echo:
    """A file-like object csv.writer writes one row to, handed straight back."""

    def write(self, value):
        return value


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "occurred_at",
        "action",
        "resource",
        "actor",
        "channel",
        "ip_address",
        "change_summary",
        "sealed",
    ]
    list_filter = [ResourceTypeFilter, ActionFilter, "channel", ActorFilter, AboutFilter]
    search_fields = ["=resource_id", "=actor", "=request_id", "=ip_address"]
    date_hierarchy = "occurred_at"
    list_per_page = 100
    show_full_result_count = False  # a count over millions of events costs more than it tells
    fields = [
        "id",
        "occurred_at",
        "action",
        "resource_type",
        "resource_id",
        "actor",
        "channel",
        "request_id",
        "ip_address",
        "user_agent",
        "changes_table",
        "related",
        "seq",
        "previous_hash",
        "hash",
    ]
    readonly_fields = fields
    change_list_template = "admin/audit/auditevent/change_list.html"

    def get_list_display(self, request):
        columns = list(super().get_list_display(request))
        if current_scope() is not None and current_scope().system:
            columns.insert(1, "tenant")
        return columns

    @property
    def ordering(self):
        """The scope's listing order. A property, not get_ordering(): the changelist's sort
        arrows read this attribute, and must show the order the rows are in."""
        return list(ordering_for(current_scope()))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="resource")
    def resource(self, event):
        return f"{event.resource_type}:{event.resource_id}"

    @admin.display(description="sealed", boolean=True)
    def sealed(self, event):
        return event.is_sealed

    @admin.display(description="changes")
    def change_summary(self, event):
        parts = [f"{name}: {old} → {new}" for name, (old, new) in event.changes.items()]
        text = "; ".join(parts)
        return text if len(text) <= 120 else text[:119] + "…"

    @admin.display(description="changes")
    def changes_table(self, event):
        if not event.changes:
            return "—"
        rows = format_html_join(
            "",
            "<tr><th>{}</th><td>{}</td><td>{}</td></tr>",
            ((name, _shown(old), _shown(new)) for name, (old, new) in event.changes.items()),
        )
        return format_html(
            "<table><thead><tr><th>field</th><th>old</th><th>new</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            rows,
        )

    # --- CSV export of the filtered selection -------------------------------------------------

    def get_urls(self):
        export = path(
            "export.csv",
            self.admin_site.admin_view(self.export_view),
            name="audit_auditevent_export",
        )
        return [export, *super().get_urls()]

    def export_view(self, request):
        """The changelist's current selection (filters, search, dates) as CSV, streamed in
        keyset chunks: a year of events never sits in memory."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        selection = self.get_changelist_instance(request).queryset
        response = StreamingHttpResponse(
            _csv_rows(selection, current_scope()), content_type="text/csv; charset=utf-8"
        )
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="audit-events-{stamp}.csv"'
        return response


def _shown(value):
    return "—" if value in (None, "") else value


def _cell(value):
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return value.isoformat() if hasattr(value, "isoformat") else value


def _csv_rows(selection, scope):
    """Rows of `selection` in the scope's listing order, fetched chunk by chunk in the request's
    tenant scope, which the response re-enters: it is iterated after the view has returned."""
    writer = csv.writer(Echo())
    yield writer.writerow(EXPORT_COLUMNS)
    enter = system_scope if scope.system else (lambda: tenant_context(scope.tenant))
    ordering = ordering_for(scope)
    selection = selection.order_by(*ordering)
    keys = [EXPORT_COLUMNS.index(field.lstrip("-")) for field in ordering]
    last = None
    while True:
        with enter():
            chunk = selection if last is None else selection.filter(keyset_after(ordering, last))
            rows = list(chunk.values_list(*EXPORT_COLUMNS)[:EXPORT_CHUNK])
        if not rows:
            return
        for row in rows:
            yield writer.writerow([_cell(value) for value in row])
        last = [rows[-1][position] for position in keys]
