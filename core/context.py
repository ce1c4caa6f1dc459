"""Who is acting, for which tenant, in which request: the per-request context.

Held in `contextvars` so that each request (or command) sees only its own values, and always
reset by the code that set them, so nothing leaks to the next request on a reused thread.
"""

import contextvars
from contextlib import contextmanager
from dataclasses import dataclass


class NoTenantError(RuntimeError):
    """Tenant data was queried with no tenant set and outside `system_scope()`."""


class TenantMismatchError(RuntimeError):
    """A row of one tenant was written while acting for another (outside `system_scope()`)."""


def check_writable_tenant(model, tenant_id):
    """Refuse writing a `model` row of tenant `tenant_id` in the current scope: another
    tenant's row (TenantMismatchError) or any row outside every scope (NoTenantError).
    Anything goes in system scope."""
    scope = _scope.get()
    if scope is None:
        raise NoTenantError(
            f"Cannot write {model._meta.label} with no tenant set. Wrap the code in "
            "tenant_context(tenant) or, for work that truly spans tenants, in system_scope()."
        )
    if scope.system or tenant_id is None:
        return
    if tenant_id != scope.tenant.pk:
        raise TenantMismatchError(
            f"Cannot write a {model._meta.label} row of tenant {tenant_id} while acting for "
            f"tenant {scope.tenant.pk} ({scope.tenant}). Only system_scope() writes across tenants."
        )


@dataclass(frozen=True)
class TenantScope:
    tenant: object | None  # a core.Tenant, or None in system scope
    system: bool = False


@dataclass(frozen=True)
class RequestInfo:
    """What the audit trail records about the origin of a change."""

    actor: str = ""  # "user:alice", "partner_key:ab12cd34", "system:loaddata"
    user: object | None = None
    partner_key: object | None = None
    request_id: str = ""
    ip_address: str | None = None
    user_agent: str = ""
    # How the change came in: "admin", "api", or "command" (every other entry point is a
    # manage.py command: operator commands, the shell, migrations).
    channel: str = "command"


_scope: contextvars.ContextVar[TenantScope | None] = contextvars.ContextVar(
    "ledgerline_tenant_scope", default=None
)
_NO_REQUEST = RequestInfo()
_request: contextvars.ContextVar[RequestInfo] = contextvars.ContextVar(
    "ledgerline_request_info", default=_NO_REQUEST
)


# --- tenant -----------------------------------------------------------------------------------


def current_scope():
    return _scope.get()


def get_current_tenant():
    """The current tenant, or None in system scope. Raises when neither is set (fail closed)."""
    scope = _scope.get()
    if scope is None:
        raise NoTenantError(
            "No tenant is set. Wrap the code in tenant_context(tenant) or, for work that truly "
            "spans tenants, in system_scope()."
        )
    return scope.tenant


def in_system_scope():
    scope = _scope.get()
    return scope is not None and scope.system


@contextmanager
def _entered(scope):
    token = _scope.set(scope)
    try:
        yield scope.tenant
    finally:
        _scope.reset(token)


def tenant_context(tenant):
    """Act for `tenant`: every tenant-scoped query inside is filtered to it."""
    if tenant is None:
        raise ValueError("tenant_context() needs a tenant; use system_scope() to span tenants.")
    return _entered(TenantScope(tenant=tenant))


def system_scope():
    """Explicitly act across all tenants (migrations, operator commands, superuser views)."""
    return _entered(TenantScope(tenant=None, system=True))


# --- request / actor --------------------------------------------------------------------------


def get_request_info() -> RequestInfo:
    return _request.get()


@contextmanager
def request_info(info: RequestInfo):
    token = _request.set(info)
    try:
        yield info
    finally:
        _request.reset(token)


@contextmanager
def actor_context(**changes):
    """Override some fields of the current request info (e.g. the actor) for a block."""
    current = _request.get()
    values = {**current.__dict__, **changes}
    with request_info(RequestInfo(**values)) as info:
        yield info


def actor_label(by=None):
    """The audit label of `by`: a user, a partner key, a label string, or the current actor."""
    if by is None:
        return _request.get().actor or "system"
    if isinstance(by, str):
        return by
    if hasattr(by, "get_username"):
        return f"user:{by.get_username()}"
    return f"partner_key:{by.prefix}"


@contextmanager
def acting_as(by=None):
    """Record changes in the block as made by `by` (no change when `by` is None)."""
    if by is None:
        yield _request.get()
        return
    user = by if hasattr(by, "get_username") else None
    with actor_context(actor=actor_label(by), user=user) as info:
        yield info
