"""Back-office pages of staff security: login records (read-only), device resets, sessions."""

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AdminPasswordChangeForm
from django.db import transaction
from django_otp.plugins.otp_totp.admin import TOTPDeviceAdmin
from django_otp.plugins.otp_totp.models import TOTPDevice

from core.admin_base import history_links
from core.context import get_current_tenant
from core.security.sessions import end_all_sessions
from core.security.staff_audit import CHANGED_SECRET, form_changes, record_staff_change
from core.security.two_factor import reset_devices


class LoginRecordAdmin(admin.ModelAdmin):
    """Read-only login records. Superusers see all of them; a tenant's auditor (staff holding
    the model's view permission) sees those of their own bank's staff usernames only."""

    list_display = ["attempt_time", "username", "ip_address", "user_agent", "path_info"]
    list_filter = ["attempt_time"]
    search_fields = ["username", "ip_address", "user_agent"]
    date_hierarchy = "attempt_time"
    ordering = ["-attempt_time"]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        staff = get_user_model().objects.filter(staff_membership__tenant=get_current_tenant())
        return queryset.filter(username__in=staff.values("username"))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AccessLog)
class AccessLogAdmin(LoginRecordAdmin):
    """Successful logins (and when each session logged out)."""

    list_display = [*LoginRecordAdmin.list_display, "logout_time"]


@admin.register(AccessFailureLog)
class AccessFailureLogAdmin(LoginRecordAdmin):
    """Every failed login, and whether it was refused for lockout."""

    list_display = [*LoginRecordAdmin.list_display, "locked_out"]
    list_filter = ["attempt_time", "locked_out"]


@admin.register(AccessAttempt)
class AccessAttemptAdmin(LoginRecordAdmin):
    """Current failure counters. Deleting one (superusers only) unlocks that user/address."""

    list_display = [*LoginRecordAdmin.list_display, "failures_since_start"]
    exclude = ["post_data"]  # never show what was typed, even though axes masks the password

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


admin.site.unregister(TOTPDevice)


def _record_removed(device):
    record_staff_change(device.user, "two_factor_device_delete", {"name": [device.name, None]})


@admin.register(TOTPDevice)
class PlatformTOTPDeviceAdmin(TOTPDeviceAdmin):
    """Second-factor devices: platform operators only. A change ends the user's sessions and
    is an audit event on the user (`core.security.staff_audit`)."""

    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        end_all_sessions(obj.user)
        action = "two_factor_device_update" if change else "two_factor_device_create"
        record_staff_change(obj.user, action, form_changes(form))

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        end_all_sessions(obj.user)
        _record_removed(obj)

    def delete_queryset(self, request, queryset):
        devices = list(queryset.select_related("user__staff_membership__tenant"))
        with transaction.atomic():  # the delete action, unlike the delete page, has none
            super().delete_queryset(request, queryset)
            for user in {device.user for device in devices}:
                end_all_sessions(user)
            for device in devices:
                _record_removed(device)


class AuditedStaffAdmin:
    """Every write of a users or groups admin goes into the audit trail
    (`core.security.staff_audit`): adds and changes with what changed, and deletions."""

    def save_model(self, request, obj, form, change):
        changes = form_changes(form)
        super().save_model(request, obj, form, change)
        record_staff_change(obj, "update" if change else "create", changes)

    def delete_model(self, request, obj):
        record_staff_change(obj, "delete")  # first: a user's bank is read through it
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():  # the delete action, unlike the delete page, has none
            for obj in queryset:
                record_staff_change(obj, "delete")
            super().delete_queryset(request, queryset)

    def history_view(self, request, object_id, extra_context=None):
        # Django's history page lists only the admin's log; the audit trail has every change.
        obj = self.get_object(request, unquote(object_id))
        if obj is not None:
            extra_context = {**(extra_context or {}), "history_links": history_links(request, obj)}
        return super().history_view(request, object_id, extra_context)


class AuditedPasswordChangeForm(AdminPasswordChangeForm):
    """An operator's new password for a user (or password login turned off): stored in one
    transaction with its audit event, which says only that the password changed."""

    def save(self, commit=True):
        with transaction.atomic():
            user = super().save(commit)
            if commit:
                record_staff_change(
                    user, "password_change", {"password": [CHANGED_SECRET, CHANGED_SECRET]}
                )
        return user


class StaffSecurityActions:
    """User admin actions of a platform operator, each in the audit trail, and a new password
    set by one (that it changed, never what it is)."""

    change_password_form = AuditedPasswordChangeForm
    actions = ["end_sessions", "reset_two_factor"]

    @admin.action(description="End all sessions of the selected users")
    def end_sessions(self, request, queryset):
        for user in queryset.select_related("staff_membership__tenant"):  # each event's bank
            with transaction.atomic():
                end_all_sessions(user)
                record_staff_change(user, "end_sessions")
        self.message_user(request, f"Ended the sessions of {len(queryset)} user(s).")

    @admin.action(description="Reset two-factor devices of the selected users")
    def reset_two_factor(self, request, queryset):
        for user in queryset.select_related("staff_membership__tenant"):  # each event's bank
            reset_devices(user=user, by=request.user)
        self.message_user(
            request,
            f"Reset two-factor authentication of {len(queryset)} user(s); they enrol again "
            "at their next login.",
            messages.SUCCESS,
        )
