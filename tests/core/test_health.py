from unittest import mock

import pytest
from django.db import OperationalError

from core import health
from tests.conftest import postgres_only


def test_live(client):
    assert client.get("/health/live").json() == {"status": "ok"}


def test_ready_when_all_is_well(client, db):
    body = client.get("/health/ready").json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "cache", "migrations"}


def test_ready_is_503_naming_the_database(client, db):
    with mock.patch.object(health, "check_database", side_effect=OperationalError("refused")):
        health.CHECKS["database"] = health.check_database
        response = client.get("/health/ready")
    health.CHECKS["database"] = health.check_database
    assert response.status_code == 503
    assert response.json()["failing"] == ["database"]
    assert "error" not in response.json()["checks"]["database"]  # details are for staff


def test_failure_details_only_for_staff(staff_client):
    with mock.patch("core.health.cache") as broken:
        broken.set.side_effect = ConnectionError("redis at 10.0.0.5 down")
        body = staff_client.get("/health/ready").json()
    assert "redis at 10.0.0.5 down" in body["checks"]["cache"]["error"]


def test_ready_is_503_naming_the_cache(client, db):
    with mock.patch("core.health.cache") as broken:
        broken.set.side_effect = ConnectionError("redis down")
        response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["failing"] == ["cache"]


def test_ready_is_503_with_pending_migrations(client, db, monkeypatch):
    monkeypatch.setattr(health, "_migrations_ok_until", 0.0)
    with mock.patch("core.health.MigrationExecutor") as executor:
        executor.return_value.migration_plan.return_value = [("core", "0002")]
        response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["failing"] == ["migrations"]


def test_details_only_for_staff(client, staff_client):
    assert "details" not in client.get("/health/").json()
    details = staff_client.get("/health/").json()["details"]
    assert details["django"] and details["database"]["vendor"]


# --- the database (and with it the session store) down --------------------------------------


class _Pool:
    """A connection pool whose database never answers."""

    def __init__(self):
        self.timeouts = []

    def open(self):
        pass

    def connection(self, timeout=None):
        from psycopg_pool import PoolTimeout

        self.timeouts.append(timeout)
        raise PoolTimeout(f"couldn't get a connection after {timeout} sec")


@pytest.fixture
def database_down(monkeypatch):
    """Every new cursor on every connection fails as an unreachable server would, and so does
    the connection pool (PostgreSQL) that the readiness check draws from."""
    from django.db import connection
    from django.db.backends.base.base import BaseDatabaseWrapper

    if getattr(connection, "pool", None) is not None:
        monkeypatch.setattr(health, "_pool", _Pool)
    with mock.patch.object(
        BaseDatabaseWrapper, "ensure_connection", side_effect=OperationalError("server down")
    ):
        yield


def test_live_touches_no_database_cache_or_session(staff_client, database_down):
    # staff_client carries a session cookie: reading it would need the database.
    from django.core.cache import caches

    untouchable = AssertionError("touched")
    default_cache = caches["default"]
    with (
        mock.patch.object(_session_store(), "load", side_effect=untouchable),
        mock.patch.object(default_cache, "get", side_effect=untouchable),
        mock.patch.object(default_cache, "set", side_effect=untouchable),
    ):
        response = staff_client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_live_with_a_session_cookie_answers_while_the_database_is_down(staff_client, database_down):
    assert staff_client.get("/health/live").status_code == 200
    assert staff_client.get("/health/live/").status_code == 200


def test_ready_with_a_session_cookie_reports_every_check_while_the_database_is_down(
    staff_client, database_down
):
    response = staff_client.get("/health/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["database"]
    assert body["checks"]["cache"]["status"] == "ok"  # still checked after the database failed
    assert body["checks"]["migrations"]["status"] == "skipped"
    assert "error" not in body["checks"]["database"]  # the session could not be read: not staff


@pytest.mark.parametrize("path", ["/health/ready", "/health/"])
def test_with_the_database_down_the_session_is_not_read(staff_client, database_down, path):
    """Reading it (cache miss, then the database) would wait for the pool's own timeout, long
    after the checks answered: the answer is the one anyone gets."""
    with mock.patch.object(_session_store(), "load", side_effect=OperationalError("down")) as load:
        response = staff_client.get(path)
    assert response.status_code == 503
    assert load.call_count == 0
    assert "error" not in response.json()["checks"]["database"]
    assert "details" not in response.json()


def test_ready_reports_the_cache_when_both_are_down(client, db):
    with (
        mock.patch.object(health, "check_database", side_effect=OperationalError("down")),
        mock.patch.dict(health.CHECKS, {"database": health.check_database}),
        mock.patch("core.health.cache") as broken,
    ):
        broken.set.side_effect = ConnectionError("redis down")
        body = client.get("/health/ready").json()
    assert body["failing"] == ["database", "cache"]


def test_ready_waits_for_the_pool_only_the_health_check_timeout(client, db, settings, monkeypatch):
    settings.HEALTH_CHECK_TIMEOUT = 3
    pool = _Pool()
    monkeypatch.setattr(health, "_pool", lambda: pool)
    response = client.get("/health/ready")
    assert pool.timeouts == [3]  # not the pool's own DB_POOL_TIMEOUT
    assert response.status_code == 503
    assert response.json()["failing"] == ["database"]


@postgres_only
def test_ready_connects_with_the_health_check_timeout_to_a_closed_port(
    client, db, settings, monkeypatch
):
    from django.db import connection

    settings.HEALTH_CHECK_TIMEOUT = 2
    monkeypatch.setattr(health, "_pool", lambda: None)
    params = {**connection.get_connection_params(), "host": "127.0.0.1", "port": 1}
    monkeypatch.setattr(connection, "get_connection_params", lambda: params)
    with mock.patch.object(
        connection.Database, "connect", wraps=connection.Database.connect
    ) as connect:
        response = client.get("/health/ready")
    assert connect.call_args.kwargs["connect_timeout"] == 2
    assert connect.call_args.kwargs["port"] == 1
    assert response.status_code == 503
    assert response.json()["failing"] == ["database"]


def _session_store():
    from importlib import import_module

    from django.conf import settings

    return import_module(settings.SESSION_ENGINE).SessionStore


def test_summary_answers_as_for_anyone_when_the_session_store_fails(staff_client):
    class ConnectionInterrupted(Exception):  # what django-redis raises, no builtin error
        pass

    with mock.patch.object(_session_store(), "load", side_effect=ConnectionInterrupted()):
        response = staff_client.get("/health/")
    assert response.status_code == 200
    assert "details" not in response.json()
