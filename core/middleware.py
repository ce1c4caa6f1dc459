"""Per-request context: request id, client, timing and query counts; then the tenant."""

import contextlib
import ipaddress
import logging
import re
import time
import uuid

from django.conf import settings
from django.db import connection

from core.context import (
    RequestInfo,
    actor_context,
    actor_label,
    request_info,
    system_scope,
    tenant_context,
)
from core.models import StaffMembership
from core.security.tenant_lockout import locked_tenant, refuse_locked_session
from core.services import KeyRejected, authenticate_partner_key

logger = logging.getLogger("ledgerline.request")
slow_logger = logging.getLogger("ledgerline.slow_query")

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
API_PREFIX = "/api/"
HEALTH_PREFIX = "/health/"


def _as_ip(value):
    """`value` as an IP address (a port, as some proxies add, dropped), or None."""
    value = value.strip()
    if value.startswith("[") and "]" in value:  # [2001:db8::1]:443
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # 203.0.113.7:51234
        value = value.split(":")[0]
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def client_ip(request):
    """The client address, trusting X-Forwarded-For only as far back as our own proxies."""
    remote = _as_ip(request.META.get("REMOTE_ADDR") or "")
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies and forwarded:
        hops = [hop for hop in forwarded.split(",") if hop.strip()]
        if len(hops) >= proxies:
            return _as_ip(hops[-proxies]) or remote
    return remote


class QueryObserver:
    """An execute_wrapper that counts queries and logs the slow ones."""

    def __init__(self, slow_ms):
        self.slow_ms = slow_ms
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            elapsed_ms = (time.perf_counter() - start) * 1000
            if elapsed_ms >= self.slow_ms:
                slow_logger.warning("slow query %.1fms: %s", elapsed_ms, sql[:2000])


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        supplied = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = supplied if _VALID_REQUEST_ID.match(supplied) else uuid.uuid4().hex
        request.request_id = request_id
        info = RequestInfo(
            request_id=request_id,
            ip_address=client_ip(request),
            user_agent=request.headers.get("User-Agent", "")[:512],
            channel="api" if request.path.startswith(API_PREFIX) else "admin",
        )
        observer = QueryObserver(settings.SLOW_QUERY_MS)
        start = time.perf_counter()
        with request_info(info), connection.execute_wrapper(observer):
            response = self.get_response(request)
            elapsed_ms = (time.perf_counter() - start) * 1000
            response[REQUEST_ID_HEADER] = request_id
            logger.info(
                "%s %s %s %.1fms queries=%d tenant=%s actor=%s",
                request.method,
                request.path,
                response.status_code,
                elapsed_ms,
                observer.count,
                getattr(request, "tenant_slug", "-"),
                getattr(request, "actor", "-"),
            )
        return response


class TenantMiddleware:
    """Decides who is acting and for which tenant; undone in all cases when the request ends.

    API requests: the bearer key's tenant (the view decides whether a key is required).
    Everything else: the staff user's membership; a superuser without one acts in system scope.
    Staff of a suspended or closed tenant are logged out and answered 403, whatever the page.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(HEALTH_PREFIX):
            # Probes act for no tenant, and must not read the session (and so the database).
            return self.get_response(request)
        with contextlib.ExitStack() as stack:
            if request.path.startswith(API_PREFIX):
                self._enter_partner(request, stack)
            else:
                user = getattr(request, "user", None)
                locked = locked_tenant(user) if user and user.is_authenticated else None
                if locked is not None:
                    return refuse_locked_session(request, locked)
                self._enter_staff(request, stack)
            return self.get_response(request)

    def _enter_partner(self, request, stack):
        request.partner_key = None
        request.partner_key_error = None
        header = request.headers.get("Authorization", "")
        if not header:
            return
        scheme, _, raw_key = header.partition(" ")
        if scheme.lower() != "bearer" or not raw_key.strip():
            request.partner_key_error = KeyRejected(
                "Send the API key as 'Authorization: Bearer <key>'."
            )
            return
        try:
            key = authenticate_partner_key(raw_key.strip())
        except KeyRejected as rejected:
            request.partner_key_error = rejected
            return
        request.partner_key = key
        request.tenant = key.tenant
        request.tenant_slug = key.tenant.slug
        request.actor = actor_label(key)
        stack.enter_context(tenant_context(key.tenant))
        stack.enter_context(actor_context(actor=request.actor, partner_key=key))

    def _enter_staff(self, request, stack):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return
        request.actor = actor_label(user)
        stack.enter_context(actor_context(actor=request.actor, user=user))
        tenant = StaffMembership.tenant_of(user)
        if tenant is not None:
            request.tenant = tenant
            request.tenant_slug = tenant.slug
            stack.enter_context(tenant_context(tenant))
        elif user.is_superuser:
            request.tenant = None
            request.tenant_slug = "*"
            stack.enter_context(system_scope())
