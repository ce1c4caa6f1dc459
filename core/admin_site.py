from functools import partial

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.urls import path

# This module is imported while apps load (it holds the AdminConfig), so the security modules,
# which import models, are imported where they are used.

# The index lists staff work first, platform plumbing last; apps not named here follow, A to Z.
APP_ORDER = ["customers", "accounts", "lending", "audit", "axes", "otp_totp", "core", "auth"]
# Django's and libraries' apps, named for what staff do there (ours set verbose_name).
APP_NAMES = {
    "auth": "Staff users and groups",
    "axes": "Staff logins and lockouts",
    "otp_totp": "Second-factor devices",
}


class LedgerlineAdminSite(admin.AdminSite):
    site_header = "Ledgerline back office"
    site_title = "Ledgerline back office"
    index_title = "Back office"
    login_template = "ledgerline/login.html"
    site_url = None  # there is no public site to "view"
    # The app sidebar costs a quarter of a 1,400 px screen on every page; breadcrumbs and the
    # index lead to the same places, and changelists need the width.
    enable_nav_sidebar = False

    def has_permission(self, request):
        """Staff need a membership of an active tenant; only superusers may work without one
        (all tenants), and they are never locked out, so they can reopen a tenant."""
        from core.models import StaffMembership

        user = request.user
        if not (user.is_active and user.is_staff):
            return False
        if user.is_superuser:
            return True
        tenant = StaffMembership.tenant_of(user)
        return tenant is not None and tenant.is_active

    def login(self, request, extra_context=None):
        """Password, tenant status and, for users with a device, the authenticator code."""
        from core.security.login import StaffLoginForm
        from core.security.sessions import pop_notice

        self.login_form = StaffLoginForm
        extra_context = {**(extra_context or {}), "session_notice": pop_notice(request)}
        return super().login(request, extra_context)

    def get_urls(self):
        from core.security import sessions, two_factor

        own = [
            path(
                "security/",
                self.admin_view(partial(two_factor.account_security_view, site=self)),
                name="account_security",
            ),
            path(
                "security/logout-everywhere/",
                self.admin_view(partial(sessions.logout_everywhere_view, site=self)),
                name="logout_everywhere",
            ),
        ]
        return own + super().get_urls()

    def each_context(self, request):
        """Every page says which bank the staff user works in (`working_in`, in the header)."""
        context = super().each_context(request)
        tenant = getattr(request, "tenant", None)
        if tenant is not None:
            context["working_in"] = tenant.name
        elif getattr(request, "user", None) is not None and request.user.is_authenticated:
            context["working_in"] = "All banks (platform superuser)"
        return context

    def get_app_list(self, request, app_label=None):
        apps = super().get_app_list(request, app_label)
        for app in apps:
            app["name"] = APP_NAMES.get(app["app_label"], app["name"])
        rank = {label: position for position, label in enumerate(APP_ORDER)}
        return sorted(apps, key=lambda app: (rank.get(app["app_label"], len(rank)), app["name"]))


class LedgerlineAdminConfig(AdminConfig):
    """Installs Django's admin with the Ledgerline site in place of the default one."""

    default_site = "core.admin_site.LedgerlineAdminSite"
