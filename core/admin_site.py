from django.contrib import admin
from django.contrib.admin.apps import AdminConfig


class LedgerlineAdminSite(admin.AdminSite):
    site_header = "Ledgerline back office"
    site_title = "Ledgerline back office"
    index_title = "Back office"

    def has_permission(self, request):
        """Staff need a tenant membership; only superusers may work without one (all tenants)."""
        user = request.user
        if not (user.is_active and user.is_staff):
            return False
        return user.is_superuser or hasattr(user, "staff_membership")


class LedgerlineAdminConfig(AdminConfig):
    """Installs Django's admin with the Ledgerline site in place of the default one."""

    default_site = "core.admin_site.LedgerlineAdminSite"
