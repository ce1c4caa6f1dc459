"""Staff of a suspended or closed tenant are locked out of the back office."""

from django.contrib.auth import logout
from django.template.response import TemplateResponse

from core.models import StaffMembership

INACTIVE_TENANT_TEMPLATE = "ledgerline/tenant_inactive.html"


def locked_tenant(user):
    """The user's tenant when it is not active (the user is locked out), else None.

    Superusers are never locked out: they are the platform operators who reopen a tenant."""
    if user.is_superuser:
        return None
    tenant = StaffMembership.tenant_of(user)
    return tenant if tenant is not None and not tenant.is_active else None


def inactive_tenant_message(tenant):
    return (
        f"{tenant.name} is {tenant.get_status_display().lower()} on Ledgerline: its staff "
        "cannot sign in to the back office. Ask a platform operator if this is unexpected."
    )


def refuse_locked_session(request, tenant):
    """End the session of a locked-out user and answer a 403 page that says why."""
    logout(request)
    return TemplateResponse(
        request,
        INACTIVE_TENANT_TEMPLATE,
        {"title": "Access suspended", "message": inactive_tenant_message(tenant)},
        status=403,
    ).render()
