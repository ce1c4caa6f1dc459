"""Retries: concurrent requests with one Idempotency-Key move money once, and a unit of work
that PostgreSQL aborts (deadlock, serialization failure) is rerun instead of answered 500."""

import pytest
from django.db import OperationalError

from accounts import api as api_module
from accounts.models import Journal
from core.context import system_scope, tenant_context
from core.models import IdempotencyRecord
from tests.accounts.test_api import BASE, balances, holder_of, open_account
from tests.concurrency import run_concurrently
from tests.conftest import ApiClient, make_api_client, postgres_only


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_of_a_deposit_post_once(tenant):
    api = make_api_client(tenant)
    ref = open_account(api, holder_of(tenant))["reference"]

    def retry():
        response = ApiClient(api.raw_key).post(
            f"{BASE}/{ref}/deposits", {"amount": "25.00"}, headers={"Idempotency-Key": "race"}
        )
        return response.status_code, response.get("Idempotent-Replayed", ""), response.json()

    outcomes = run_concurrently(*[retry] * 6)
    assert sorted((status, replayed) for status, replayed, _ in outcomes) == [
        (201, ""),
        *[(201, "true")] * 5,
    ]
    assert len({body["id"] for _, _, body in outcomes}) == 1
    assert balances(api, ref) == ("25.00", "25.00")
    with tenant_context(tenant):
        assert Journal.objects.filter(kind="deposit").count() == 1


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_of_a_transfer_post_once(tenant):
    api = make_api_client(tenant)
    holder = holder_of(tenant)
    source = open_account(api, holder)["reference"]
    target = open_account(api, holder)["reference"]
    api.post(f"{BASE}/{source}/deposits", {"amount": "10.00"})
    body = {"from_account": source, "to_account": target, "amount": "7.00"}

    def retry():
        response = ApiClient(api.raw_key).post(
            "/api/v1/transfers", body, headers={"Idempotency-Key": "race-transfer"}
        )
        return response.status_code

    assert run_concurrently(*[retry] * 4) == [201] * 4
    assert balances(api, source) == ("3.00", "3.00")
    assert balances(api, target) == ("7.00", "7.00")


class _Deadlock(Exception):
    sqlstate = "40P01"  # what psycopg's DeadlockDetected carries


def _deadlocking_once(service):
    """`service`, whose first call does its work and then fails as PostgreSQL fails a
    transaction it picked to break a deadlock."""
    calls = []

    def flaky(**kwargs):
        calls.append(kwargs)
        result = service(**kwargs)
        if len(calls) == 1:
            error = OperationalError("deadlock detected")
            error.__cause__ = _Deadlock()
            raise error
        return result

    return flaky, calls


# Outside the test's own transaction (transaction=True): a retry only reruns a unit of work
# that owns its transaction.
@pytest.mark.django_db(transaction=True)
def test_a_deadlocked_idempotent_deposit_is_rerun_not_answered_500(tenant, monkeypatch):
    api = make_api_client(tenant)
    ref = open_account(api, holder_of(tenant))["reference"]
    flaky, calls = _deadlocking_once(api_module.services.deposit)
    monkeypatch.setattr(api_module.services, "deposit", flaky)
    response = api.post(
        f"{BASE}/{ref}/deposits", {"amount": "5.00"}, headers={"Idempotency-Key": "dl-1"}
    )
    assert response.status_code == 201, response.content
    assert len(calls) == 2
    # The first attempt's posting and idempotency record were rolled back with it.
    assert balances(api, ref) == ("5.00", "5.00")
    with tenant_context(tenant):
        assert Journal.objects.filter(kind="deposit").count() == 1
    with system_scope():
        assert IdempotencyRecord.objects.filter(key="dl-1").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_deadlocked_transfer_without_a_key_is_rerun(tenant, monkeypatch):
    api = make_api_client(tenant)
    holder = holder_of(tenant)
    source = open_account(api, holder)["reference"]
    target = open_account(api, holder)["reference"]
    api.post(f"{BASE}/{source}/deposits", {"amount": "10.00"})

    def deadlocked(**kwargs):
        error = OperationalError("deadlock detected")
        error.__cause__ = _Deadlock()
        raise error

    attempts = []
    real = api_module.services.transfer

    def flaky(**kwargs):
        attempts.append(1)
        return deadlocked(**kwargs) if len(attempts) == 1 else real(**kwargs)

    monkeypatch.setattr(api_module.services, "transfer", flaky)
    response = api.post(
        "/api/v1/transfers", {"from_account": source, "to_account": target, "amount": "4.00"}
    )
    assert response.status_code == 201, response.content
    assert len(attempts) == 2
    assert balances(api, target) == ("4.00", "4.00")
