"""Health endpoints for load balancers and operators.

`live`: the process answers; it touches no database, cache or session (answered by
`LiveProbeMiddleware` before those middlewares run), so a database outage never makes a load
balancer restart healthy processes. `ready`: the database answers within
`HEALTH_CHECK_TIMEOUT` seconds, the cache round-trips and no migration is pending; every check
is reported, and 503 names the failing ones. `summary`: both, plus pool and version figures for
staff only.
"""

import platform
import time
import uuid

import django
from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from core.db.rls import current_role

APP_VERSION = "0.1.0"
# Migrations cannot become unapplied under a running process, so a pass is remembered briefly.
_MIGRATIONS_OK_FOR = 30.0
_migrations_ok_until = 0.0


LIVE_PATH = "/health/live"


def _pool():
    return getattr(connection, "pool", None)  # PostgreSQL with the built-in pool only


def check_database():
    """`SELECT 1` within `HEALTH_CHECK_TIMEOUT` seconds, never the pool's or the OS's wait."""
    timeout = settings.HEALTH_CHECK_TIMEOUT
    pool = _pool()
    if pool is not None:
        pool.open()
        with pool.connection(timeout=timeout) as conn:  # what a request would get, or not
            conn.execute("SELECT 1")
    elif connection.vendor == "postgresql":
        params = {**connection.get_connection_params(), "connect_timeout": timeout}
        with connection.Database.connect(**params) as conn:
            conn.execute("SELECT 1")
    else:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()


def check_cache():
    probe_key = f"health:{uuid.uuid4().hex}"
    cache.set(probe_key, "ok", timeout=10)
    value = cache.get(probe_key)
    cache.delete(probe_key)
    if value != "ok":
        raise RuntimeError("the cache did not return what was written")


def check_migrations():
    global _migrations_ok_until
    if time.monotonic() < _migrations_ok_until:
        return
    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        raise RuntimeError(f"{len(plan)} migration(s) not applied; run 'manage.py migrate'")
    _migrations_ok_until = time.monotonic() + _MIGRATIONS_OK_FOR


CHECKS = {"database": check_database, "cache": check_cache, "migrations": check_migrations}


def run_checks():
    """Every check, each reported whatever the others did."""
    results = {}
    for name, check in CHECKS.items():
        if name == "migrations" and results.get("database", {}).get("status") == "fail":
            # It needs the database; trying would only wait on the pool's own timeout.
            results[name] = {"status": "skipped", "reason": "the database is unreachable"}
            continue
        start = time.perf_counter()
        try:
            check()
        except Exception as error:  # a health check reports every failure, whatever its kind
            results[name] = {"status": "fail", "error": f"{type(error).__name__}: {error}"}
        else:
            results[name] = {
                "status": "ok",
                "ms": round((time.perf_counter() - start) * 1000, 1),
            }
    return results


def _ready_payload(request):
    """(payload, status, whether a staff user asked): staff see error texts (they may name
    hosts and users) and, on the summary, details."""
    checks = run_checks()
    # Who asks is read from the session and the user table: with the database down that
    # read would wait for the pool (or the OS) long after the checks have answered.
    staff = checks["database"]["status"] == "ok" and _is_staff(request)
    if not staff:
        for result in checks.values():
            result.pop("error", None)
    failing = [name for name, result in checks.items() if result["status"] == "fail"]
    payload = {"status": "fail" if failing else "ok", "checks": checks}
    if failing:
        payload["failing"] = failing
    return payload, (503 if failing else 200), staff


def _is_staff(request):
    """Whether a staff user's session came with the request; False when the session cannot be
    read (its database or cache is down, whatever the backend raises), so the probe answers."""
    user = getattr(request, "user", None)
    try:
        return user is not None and user.is_authenticated and user.is_staff
    except Exception:
        return False


@never_cache
@require_GET
def live(request):
    return JsonResponse({"status": "ok"})


class LiveProbeMiddleware:
    """Answers `/health/live` before sessions, authentication or tenancy run: a session cookie
    on the probe must not make it read the session store or the database."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info.rstrip("/") == LIVE_PATH:
            return live(request)
        return self.get_response(request)


@never_cache
@require_GET
def ready(request):
    payload, status, _staff = _ready_payload(request)
    return JsonResponse(payload, status=status)


def _details():
    details = {
        "version": APP_VERSION,
        "python": platform.python_version(),
        "django": django.get_version(),
        "database": {"vendor": connection.vendor},
        "cache": cache.__class__.__name__,
    }
    pool = _pool()
    if pool is not None:
        details["database"]["pool"] = pool.get_stats()
    if connection.vendor == "postgresql":
        details["database"]["server_version"] = connection.pg_version
        role = current_role(connection)
        details["database"]["role"] = role._asdict()
        if role.bypasses_rls:
            details.setdefault("warnings", []).append(role.warning())
    return details


@never_cache
@require_GET
def summary(request):
    payload, status, staff = _ready_payload(request)
    if staff:
        payload["details"] = _details()
    return JsonResponse(payload, status=status)
