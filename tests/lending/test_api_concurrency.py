"""Concurrent retries with one Idempotency-Key disburse and repay a loan once (PostgreSQL)."""

from decimal import Decimal

import pytest

from accounts.models import Journal
from core.context import tenant_context
from lending.models import Repayment
from tests.accounts.factories import funded_account
from tests.concurrency import run_concurrently
from tests.conftest import ApiClient, make_api_client, postgres_only
from tests.lending.test_api import BASE, application, balance, make_product


@pytest.fixture
def approved(tenant):
    """An approved loan of 12,000.00 into an account holding 1,000.00: (api, ref, account)."""
    api = make_api_client(tenant)
    approver = make_api_client(tenant, scopes=("lending:approve",))
    account = funded_account(tenant, "1000.00", currency="EUR")
    ref = api.post(BASE, application(make_product(tenant), account)).json()["reference"]
    assert approver.post(f"{BASE}/{ref}/approve").status_code == 200
    return api, ref, account


def _retries(raw_key, path, body, key, count):
    def retry():
        response = ApiClient(raw_key).post(path, body, headers={"Idempotency-Key": key})
        return response.status_code, response.get("Idempotent-Replayed", ""), response.json()

    return run_concurrently(*[retry] * count)


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_disburse_once_and_repay_once(tenant, approved):
    api, ref, account = approved
    outcomes = _retries(api.raw_key, f"{BASE}/{ref}/disburse", {}, "race-disburse", 4)
    assert sorted((status, replayed) for status, replayed, _ in outcomes) == [
        (200, ""),
        *[(200, "true")] * 3,
    ]
    assert balance(tenant, account) == Decimal("12880.00")  # 12,000.00 lent less a 1 % fee

    outcomes = _retries(
        api.raw_key, f"{BASE}/{ref}/repayments", {"amount": "100.00"}, "race-repay", 4
    )
    assert sorted(status for status, _, _ in outcomes) == [201] * 4
    assert len({body["id"] for _, _, body in outcomes}) == 1
    assert balance(tenant, account) == Decimal("12780.00")
    with tenant_context(tenant):
        assert Journal.objects.filter(kind="loan_disbursement").count() == 1
        assert Repayment.objects.count() == 1
