"""Money over HTTP under concurrency: random transfers and racing withdrawals answer only 201
or 422 and conserve money; concurrent requests with one Idempotency-Key move money once; a
unit of work that PostgreSQL aborts (deadlock, serialization failure) is rerun instead of
answered 500."""

import io
import random
import uuid
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import OperationalError

from accounts import api as api_module
from accounts import rules
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
            f"{BASE}/{ref}/deposits",
            {"amount": "25.00", "description": "test"},
            headers={"Idempotency-Key": "race"},
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
    api.post(f"{BASE}/{source}/deposits", {"amount": "10.00", "description": "test"})
    body = {"from_account": source, "to_account": target, "amount": "7.00", "description": "test"}

    def retry():
        response = ApiClient(api.raw_key).post(
            "/api/v1/transfers", body, headers={"Idempotency-Key": "race-transfer"}
        )
        return response.status_code

    assert run_concurrently(*[retry] * 4) == [201] * 4
    assert balances(api, source) == ("3.00", "3.00")
    assert balances(api, target) == ("7.00", "7.00")


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_random_transfers_and_racing_withdrawals_through_the_api(tenant):
    """The service-level race of test_concurrency.py over HTTP, each request with its own
    Idempotency-Key: 6 threads make 40 random transfers each among five accounts (some with an
    overdraft), while 2 threads race 20 withdrawals each of 10.00 from an account holding
    100.00. Every answer is 201 or a 422 naming the rule; nothing is lost or overdrawn."""
    api = make_api_client(tenant)
    holder = holder_of(tenant)
    limits = ("0.00", "0.00", "50.00", "100.00", "0.00")
    pool = [open_account(api, holder, overdraft_limit=limit)["reference"] for limit in limits]
    target = open_account(api, holder)["reference"]
    for ref in pool:
        api.post(f"{BASE}/{ref}/deposits", {"amount": "500.00", "description": "test"})
    api.post(f"{BASE}/{target}/deposits", {"amount": "100.00", "description": "test"})

    def post(path, body):
        headers = {"Idempotency-Key": str(uuid.uuid4())}
        response = ApiClient(api.raw_key).post(path, body, headers=headers)
        if response.status_code == 422:
            assert response.json()["type"].endswith("/business-rule"), response.content
        return response.status_code

    def transfers(seed):
        rng = random.Random(seed)
        statuses = []
        for _ in range(40):
            source, destination = rng.sample(pool, 2)
            amount = f"{Decimal(rng.randint(1, 40000)) / 100:.2f}"
            body = {
                "from_account": source,
                "to_account": destination,
                "amount": amount,
                "description": "test",
            }
            statuses.append(post("/api/v1/transfers", body))
        return statuses

    def withdrawals():
        return [
            post(f"{BASE}/{target}/withdrawals", {"amount": "10.00", "description": "test"})
            for _ in range(20)
        ]

    outcomes = run_concurrently(
        *[lambda seed=seed: transfers(seed) for seed in range(6)], withdrawals, withdrawals
    )
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    assert not failures, failures
    statuses = [status for outcome in outcomes for status in outcome]
    assert set(statuses) <= {201, 422}, sorted(set(statuses))
    transferred = sum(status == 201 for outcome in outcomes[:6] for status in outcome)
    assert transferred > 80  # the run really moved money (most transfers fit)
    assert sum(status == 201 for outcome in outcomes[6:] for status in outcome) == 10

    assert balances(api, target) == ("0.00", "0.00")
    held = {ref: api.get(f"{BASE}/{ref}").json() for ref in pool}
    assert sum(Decimal(body["balance"]) for body in held.values()) == Decimal("2500.00")
    for ref, body in held.items():
        assert Decimal(body["balance"]) >= -Decimal(body["overdraft_limit"]), ref
    with tenant_context(tenant):
        assert Journal.objects.filter(kind="transfer").count() == transferred
    out = io.StringIO()
    call_command("reconcile_ledger", "--no-progress", stdout=out)
    assert "harbour: balanced" in out.getvalue()


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
        f"{BASE}/{ref}/deposits",
        {"amount": "5.00", "description": "test"},
        headers={"Idempotency-Key": "dl-1"},
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
    api.post(f"{BASE}/{source}/deposits", {"amount": "10.00", "description": "test"})

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
        "/api/v1/transfers",
        {"from_account": source, "to_account": target, "amount": "4.00", "description": "test"},
    )
    assert response.status_code == 201, response.content
    assert len(attempts) == 2
    assert balances(api, target) == ("4.00", "4.00")


@pytest.mark.django_db(transaction=True)
def test_a_persistent_deadlock_makes_the_bounded_attempts_then_answers_503(tenant, monkeypatch):
    """The API's retry and the service's are nested: the request still runs `attempts` (3)
    times, not 3 x 3, and then says it may be sent again; nothing was written."""
    api = make_api_client(tenant)
    ref = open_account(api, holder_of(tenant))["reference"]
    attempts = []

    def deadlocked(row):
        attempts.append(row)
        error = OperationalError("deadlock detected")
        error.__cause__ = _Deadlock()
        raise error

    monkeypatch.setattr(rules, "check_can_post", deadlocked)  # inside the real service
    response = api.post(
        f"{BASE}/{ref}/deposits", {"amount": "5.00", "description": "test"}
    )  # no key: no outer atomic
    assert response.status_code == 503, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response["Retry-After"] == "1"
    assert response.json()["type"].endswith("/transient-contention")
    assert len(attempts) == 3
    monkeypatch.undo()
    assert balances(api, ref) == ("0.00", "0.00")
