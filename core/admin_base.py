"""Bases for every ModelAdmin of tenant data."""

import functools
from itertools import pairwise

from django.contrib import admin, messages
from django.contrib.admin.utils import model_ngettext, unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import router, transaction
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from simple_history.admin import SimpleHistoryAdmin

from core.context import in_system_scope
from core.errors import ServiceError
from core.forms import TenantScopedModelForm
from core.history import changed_fields

HISTORY_COLUMNS = ["action", "actor", "channel", "ip_address", "request_id"]

# Refusals a save or an action may meet: a service's domain error, or a rule checked again
# under a lock (a ValidationError raised after the form was valid).
REFUSALS = (ServiceError, ValidationError)


def actor_display(actor):
    """An audit actor label as staff read it: "user:hana" -> "hana (staff)"."""
    kind, _, name = (actor or "system").partition(":")
    return {
        "user": f"{name} (staff)",
        "partner_key": f"API key {name}… (partner)",
        "system": f"system ({name})" if name else "system",
    }.get(kind, actor)


def refusal_messages(error):
    """[(field or None, message)] of a refusal, for form errors or admin messages."""
    if isinstance(error, ValidationError) and hasattr(error, "error_dict"):
        return [
            (None if field == "__all__" else field, message)
            for field, field_messages in error.message_dict.items()
            for message in field_messages
        ]
    if isinstance(error, ValidationError):
        return [(None, message) for message in error.messages]
    return [(None, str(error))]


def refusal_text(error):
    return "; ".join(
        f"{field.replace('_', ' ')}: {message}" if field else message
        for field, message in refusal_messages(error)
    )


def _form_with_refusal(form_class, error):
    """`form_class`, failing validation with `error` (a refusal met while saving it)."""

    def clean(self):
        cleaned = form_class.clean(self)
        for field, message in refusal_messages(error):
            if field in self.fields:
                self.add_error(field, message)
            else:  # a field of an inline row, or none: shown above the form
                self.add_error(None, f"{field.replace('_', ' ')}: {message}" if field else message)
        return cleaned

    return type(form_class.__name__, (form_class,), {"clean": clean})


# What other apps link to from every object's History page (core imports no app): callables
# `(request, obj) -> (label, url)`, or None to show nothing; the audit app registers its trail.
HISTORY_LINKS = []


def history_links(request, obj):
    """[(label, url)] of `obj`'s History page (templates/admin/ledgerline/history_links.html)."""
    return [link for make in HISTORY_LINKS if (link := make(request, obj))]


class HistoryAdmin(SimpleHistoryAdmin):
    """Every object's history page shows who (actor), what (action) and from where (IP), and
    what changed: every tracked field, lifecycle fields included, secrets masked.

    History is shown only for objects the staff user may see (the tenant-scoped queryset);
    reverting to an old version is off (`SIMPLE_HISTORY_REVERT_DISABLED`), since it would
    bypass the services' rules.
    """

    # The columns (when, who, action, changes, IP address, request id) are laid out by
    # templates/simple_history/object_history_list.html, which overrides the library's.
    history_masked_fields = {}  # field name -> function showing the value safely
    history_hidden_fields = frozenset({"updated_at"})

    def _require_visible(self, request, object_id):
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404("No such object.")
        return obj

    def history_view(self, request, object_id, extra_context=None):
        obj = self._require_visible(request, object_id)
        extra_context = {**(extra_context or {}), "history_links": history_links(request, obj)}
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        self._require_visible(request, object_id)
        if not str(version_id).isdigit():
            raise Http404("No such version.")
        if request.method == "POST":
            # The library only hides the revert button; refuse the revert itself.
            raise PermissionDenied("Reverting to an old version is disabled.")
        request.showing_history_version = True
        return super().history_form_view(request, object_id, version_id, extra_context)

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None and getattr(request, "showing_history_version", False):
            # `obj` is a throwaway copy rebuilt from the historical row: mask it for display.
            for name, mask in self.history_masked_fields.items():
                setattr(obj, name, mask(getattr(obj, name) or ""))
        return super().get_form(request, obj, change=change, **kwargs)

    def set_history_delta_changes(self, request, historical_records, foreign_keys_are_objs=True):
        # simple-history diffs only fields editable in forms; status, KYC and deletion are
        # changed by services and are exactly what auditors look for, so diff every field.
        records = list(historical_records)
        for record in records:
            record.actor_display = actor_display(record.actor)
        for newer, older in pairwise(records):
            newer.history_delta_changes = self.history_changes(older, newer)

    def history_changes(self, older, newer):
        changed = changed_fields(
            older, newer, hidden=self.history_hidden_fields, masked=self.history_masked_fields
        )
        return [
            {"field": field.verbose_name, "old": old, "new": new}
            for field, (old, new) in changed.items()
        ]


class TenantScopedAdmin(HistoryAdmin):
    """Querysets and foreign-key choices follow the current tenant (set by the middleware from
    the staff user's membership). A superuser without membership works in system scope: the
    tenant is then shown, filterable and chosen explicitly."""

    form = TenantScopedModelForm

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        """A refusal met while saving (a service's domain error, a rule re-checked under a
        lock) never answers 500: Django's transaction around the save is rolled back, so
        nothing is half-saved, and the same form is shown again with the refusal as its error.
        """
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except REFUSALS as error:
            if request.method != "POST" or hasattr(request, "save_refused"):
                raise
            request.save_refused = error  # the second pass fails validation with it (get_form)
            return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        refusal = getattr(request, "save_refused", None)
        return form if refusal is None else _form_with_refusal(form, refusal)

    def response_action(self, request, queryset):
        """Actions run in a transaction; a refusal that escapes one becomes a message."""
        try:
            with transaction.atomic(using=router.db_for_write(self.model)):
                return super().response_action(request, queryset)
        except REFUSALS as error:
            self.message_user(request, refusal_text(error), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def has_add_permission(self, request):
        if in_system_scope() and "tenant" not in (self.form._meta.fields or ()):
            # Working across tenants, there is no tenant to create the row in: such rows are
            # added by the tenant's staff (or a superuser given a membership).
            return False
        return super().has_add_permission(request)

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

    Both ask for confirmation first, on a page listing the rows and what follows for each
    (`soft_delete_consequences`, `restore_consequences`). Override `soft_delete_object` /
    `restore_object` to route through a domain service.
    """

    actions = ["soft_delete_selected", "restore_selected"]
    confirm_template = "admin/ledgerline/confirm_action.html"

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

    def soft_delete_consequences(self, obj):
        """What else a soft delete of `obj` changes or meets, as sentences for staff."""
        return []

    def restore_consequences(self, obj):
        return []

    def object_label(self, obj):
        return str(obj)

    def apply_to_each(self, request, objects, operation, verb):
        """Run `operation(request, obj)` on each object in a transaction of its own; report
        what was done and, per object, what refused it (naming the blocker)."""
        done, refused = 0, []
        for obj in objects:
            try:
                with transaction.atomic(using=router.db_for_write(self.model)):
                    operation(request, obj)
                done += 1
            except REFUSALS as error:
                refused.append(f"{self.object_label(obj)}: {refusal_text(error)}")
        if done:
            self.message_user(
                request, f"{verb} {done} {model_ngettext(self.opts, done)}.", messages.SUCCESS
            )
        for message in refused:
            self.message_user(request, message, messages.ERROR)
        return done

    def confirm_then_apply(
        self,
        request,
        objects,
        *,
        operation,
        verb,
        title,
        consequences,
        action="",
        form_url="",
        form_class=None,
    ):
        """The confirmation page (listing `objects`, each with its consequences) on the first
        request, the operation once it is confirmed (a POST with `post=yes`). From the
        changelist `action` names the admin action to re-submit; from an object's page
        `form_url` is the view to post back to. With `form_class` the page asks for what the
        operation takes besides the object (a reason, say): confirmed and valid, it runs
        `operation(request, obj, **cleaned_data)`; invalid, the page shows its errors."""
        objects = list(objects)
        confirmed = request.method == "POST" and request.POST.get("post") == "yes"
        form = None if form_class is None else form_class(request.POST if confirmed else None)
        if confirmed and (form is None or form.is_valid()):
            if form is not None:
                operation = functools.partial(operation, **form.cleaned_data)
            self.apply_to_each(request, objects, operation, verb)
            return None
        if not objects:
            self.message_user(
                request, "None of the selected rows can be changed so.", messages.WARNING
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.opts,
            "verb": verb,
            "action": action,
            "form_url": form_url,
            "rows": [(obj, self.object_label(obj), consequences(obj)) for obj in objects],
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            "cancel_url": request.META.get("HTTP_REFERER") or "",
            "form": form,
        }
        return TemplateResponse(request, self.confirm_template, context)

    def has_soft_delete_permission(self, request):
        """Soft delete and restore are changes: they need the model's change permission (asked
        of the user directly, since an admin may refuse its edit form to everyone)."""
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")

    @admin.action(description="Soft delete selected rows…", permissions=["soft_delete"])
    def soft_delete_selected(self, request, queryset):
        return self.confirm_then_apply(
            request,
            queryset.filter(deleted_at__isnull=True),
            operation=self.soft_delete_object,
            verb="Soft-deleted",
            title=f"Soft delete these {self.opts.verbose_name_plural}?",
            consequences=self.soft_delete_consequences,
            action="soft_delete_selected",
        )

    @admin.action(description="Restore selected rows…", permissions=["soft_delete"])
    def restore_selected(self, request, queryset):
        return self.confirm_then_apply(
            request,
            queryset.filter(deleted_at__isnull=False),
            operation=self.restore_object,
            verb="Restored",
            title=f"Restore these {self.opts.verbose_name_plural}?",
            consequences=self.restore_consequences,
            action="restore_selected",
        )

    @admin.display(description="deleted", boolean=True)
    def is_deleted(self, obj):
        return obj.is_deleted
