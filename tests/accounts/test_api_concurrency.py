"""Retries that race: concurrent requests with one Idempotency-Key move money once."""

import pytest

from accounts.models import Journal
from core.context import tenant_context
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
