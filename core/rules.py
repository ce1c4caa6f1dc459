"""Rules of the core app, each stated once; services and forms both call them."""

from core.errors import ConflictError


def ensure_tenant_active(tenant):
    """A suspended or closed bank gets nothing new: no partner keys, no staff work."""
    if not tenant.is_active:
        raise ConflictError(
            f"The tenant '{tenant.slug}' is {tenant.status}: nothing can be issued for it "
            "until a platform operator makes it active again."
        )
