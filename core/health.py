"""Health endpoints for load balancers and operators.

`live`: the process answers. `ready`: the database answers, the cache round-trips and no
migration is pending (503 naming the failing check otherwise). `summary`: both, plus pool and
version figures for staff only.
"""

import platform
import time
import uuid

import django
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


def check_database():
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
    results = {}
    for name, check in CHECKS.items():
        start = time.perf_counter()
        try:
            check()
        except Exception as error:  # a health check reports every failure, whatever its kind
            results[name] = {"status": "fail", "error": f"{type(error).__name__}: {error}"}
            if name == "database":
                # Without a database the migrations check cannot run meaningfully.
                results["migrations"] = {"status": "skipped"}
                break
        else:
            results[name] = {
                "status": "ok",
                "ms": round((time.perf_counter() - start) * 1000, 1),
            }
    return results


def _ready_payload(request):
    checks = run_checks()
    if not _is_staff(request):  # error texts may name hosts and users: staff only
        for result in checks.values():
            result.pop("error", None)
    failing = [name for name, result in checks.items() if result["status"] == "fail"]
    payload = {"status": "fail" if failing else "ok", "checks": checks}
    if failing:
        payload["failing"] = failing
    return payload, (503 if failing else 200)


def _is_staff(request):
    user = getattr(request, "user", None)
    return user is not None and user.is_authenticated and user.is_staff


@never_cache
@require_GET
def live(request):
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def ready(request):
    payload, status = _ready_payload(request)
    return JsonResponse(payload, status=status)


def _details():
    details = {
        "version": APP_VERSION,
        "python": platform.python_version(),
        "django": django.get_version(),
        "database": {"vendor": connection.vendor},
        "cache": cache.__class__.__name__,
    }
    pool = getattr(connection, "pool", None)  # PostgreSQL with the built-in pool only
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
    payload, status = _ready_payload(request)
    if _is_staff(request):
        payload["details"] = _details()
    return JsonResponse(payload, status=status)
