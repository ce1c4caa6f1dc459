from unittest import mock

from django.db import OperationalError

from core import health


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
