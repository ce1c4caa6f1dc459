from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django.utils.html import format_html

from core.admin_base import HistoryAdmin, TenantScopedAdmin
from core.errors import ConflictError
from core.forms import TenantScopedModelForm
from core.models import IdempotencyRecord, PartnerKey, StaffMembership, Tenant
from core.rules import ensure_tenant_active
from core.scopes import scope_choices
from core.security.admin import AuditedStaffAdmin, StaffSecurityActions
from core.services import issue_partner_key, revoke_partner_key


class PlatformOnlyMixin:
    """Objects that span tenants (tenants, memberships, users, groups, plumbing): superusers
    only, whatever permissions a tenant's staff user holds, so staff cannot move themselves
    to another bank or grant themselves more."""

    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_add_permission(self, request, *args):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class PlatformUserAdmin(PlatformOnlyMixin, AuditedStaffAdmin, StaffSecurityActions, UserAdmin):
    pass


@admin.register(Group)
class PlatformGroupAdmin(PlatformOnlyMixin, AuditedStaffAdmin, GroupAdmin):
    pass


@admin.register(Tenant)
class TenantAdmin(PlatformOnlyMixin, HistoryAdmin):
    list_display = ["name", "slug", "status", "default_currency", "created_at"]
    list_filter = ["status", "default_currency"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}

    def get_readonly_fields(self, request, obj=None):
        return ["slug"] if obj is not None else []

    def get_prepopulated_fields(self, request, obj=None):
        # The slug is read-only once created; prepopulating it would break the change page.
        return self.prepopulated_fields if obj is None else {}


@admin.register(StaffMembership)
class StaffMembershipAdmin(PlatformOnlyMixin, HistoryAdmin):
    list_display = ["user", "tenant", "created_at"]
    list_filter = ["tenant"]
    search_fields = ["user__username", "user__email", "tenant__name"]
    autocomplete_fields = ["user", "tenant"]
    list_select_related = ["user", "tenant"]


class KeyRevokedFilter(admin.SimpleListFilter):
    title = "revoked"
    parameter_name = "revoked"

    def lookups(self, request, model_admin):
        return [("no", "Not revoked"), ("yes", "Revoked")]

    def queryset(self, request, queryset):
        if self.value() in {"no", "yes"}:
            return queryset.filter(is_active=self.value() == "no")
        return queryset


class PartnerKeyForm(TenantScopedModelForm):
    scopes = forms.MultipleChoiceField(
        choices=scope_choices,  # called per form: the scopes the apps registered
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = PartnerKey
        fields = ["tenant", "name", "scopes", "expires_at"]

    def clean(self):
        cleaned = super().clean()
        tenant = cleaned.get("tenant")
        if tenant is None and self.instance.tenant_id is not None:
            tenant = self.instance.tenant
        if tenant is not None and self.instance.pk is None:
            try:
                ensure_tenant_active(tenant)
            except ConflictError as error:
                self.add_error("tenant" if "tenant" in self.fields else None, str(error))
        return cleaned


@admin.register(PartnerKey)
class PartnerKeyAdmin(TenantScopedAdmin):
    form = PartnerKeyForm
    list_display = [
        "name",
        "prefix",
        "scope_list",
        "status",
        "expires_at",
        "last_used_at",
        "created_at",
    ]
    list_filter = [KeyRevokedFilter]
    search_fields = ["name", "prefix"]
    readonly_fields = ["prefix", "created_by", "last_used_at", "revoked_at", "revoked_by"]
    actions = ["revoke_selected"]

    @admin.display(description="scopes")
    def scope_list(self, obj):
        return ", ".join(obj.scopes)

    @admin.display(description="status")
    def status(self, obj):
        if not obj.is_active:
            return "revoked"
        return "expired" if obj.is_expired() else "active"

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the audit trail keeps the key

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        key, raw_key = issue_partner_key(
            tenant=obj.tenant if obj.tenant_id else request.tenant,
            name=obj.name,
            scopes=form.cleaned_data["scopes"],
            expires_at=obj.expires_at,
            by=request.user,
        )
        obj.__dict__.update({k: v for k, v in key.__dict__.items() if not k.startswith("_")})
        messages.warning(
            request,
            format_html(
                "Copy this API key now; it is shown only once and cannot be recovered: "
                "<code>{}</code>",
                raw_key,
            ),
        )

    @admin.action(description="Revoke selected keys", permissions=["change"])
    def revoke_selected(self, request, queryset):
        for key in queryset:
            revoke_partner_key(key=key, by=request.user)
        self.message_user(request, f"Revoked {queryset.count()} key(s).", messages.SUCCESS)


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(PlatformOnlyMixin, TenantScopedAdmin):
    """Read-only: what a retried partner request will be answered with."""

    list_display = ["key", "method", "path", "status_code", "created_at"]

    list_filter = ["method", "status_code"]
    search_fields = ["key", "path"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
