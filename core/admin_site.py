from django.contrib import admin
from django.contrib.admin.apps import AdminConfig

# The index lists staff work first, platform plumbing last; apps not named here follow, A to Z.
APP_ORDER = ["customers", "accounts", "lending", "audit", "core", "auth"]
# Django's own apps, named for what staff do there (our apps set verbose_name themselves).
APP_NAMES = {"auth": "Staff users and groups"}


class LedgerlineAdminSite(admin.AdminSite):
    site_header = "Ledgerline back office"
    site_title = "Ledgerline back office"
    index_title = "Back office"
    site_url = None  # there is no public site to "view"
    # The app sidebar costs a quarter of a 1,400 px screen on every page; breadcrumbs and the
    # index lead to the same places, and changelists need the width.
    enable_nav_sidebar = False

    def has_permission(self, request):
        """Staff need a tenant membership; only superusers may work without one (all tenants)."""
        user = request.user
        if not (user.is_active and user.is_staff):
            return False
        return user.is_superuser or hasattr(user, "staff_membership")

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
