import pytest

from core.context import system_scope
from core.models import IdempotencyRecord, PartnerKey
from tests.concurrency import run_concurrently
from tests.conftest import ApiClient, make_api_client, postgres_only
from tests.core import views

pytestmark = pytest.mark.urls("tests.core.urls")

KEYS = "/api/v1/test/keys"


@pytest.fixture(autouse=True)
def _reset_calls():
    views.CALLS["work"] = 0


def _created_keys(name):
    with system_scope():
        return PartnerKey.objects.filter(name=name).count()


def test_replay_returns_first_response_without_redoing_work(api):
    first = api.post(KEYS, {"name": "once"}, headers={"Idempotency-Key": "k-1"})
    again = api.post(KEYS, {"name": "once"}, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert views.CALLS["work"] == 1
    assert _created_keys("once") == 1


def test_same_key_with_another_body_is_409(api):
    api.post(KEYS, {"name": "a"}, headers={"Idempotency-Key": "k-2"})
    response = api.post(KEYS, {"name": "b"}, headers={"Idempotency-Key": "k-2"})
    assert response.status_code == 409
    assert response["Content-Type"] == "application/problem+json"
    assert _created_keys("b") == 0


def test_keys_are_per_tenant(api, other_api):
    api.post(KEYS, {"name": "t1"}, headers={"Idempotency-Key": "shared"})
    response = other_api.post(KEYS, {"name": "t1"}, headers={"Idempotency-Key": "shared"})
    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response
    assert views.CALLS["work"] == 2


def test_validation_failure_is_replayed_too(api):
    first = api.post(KEYS, {"name": ""}, headers={"Idempotency-Key": "k-3"})
    again = api.post(KEYS, {"name": ""}, headers={"Idempotency-Key": "k-3"})
    assert first.status_code == again.status_code == 400
    assert again["Idempotent-Replayed"] == "true"


def test_overlong_key_is_400(api):
    response = api.post(KEYS, {"name": "x"}, headers={"Idempotency-Key": "k" * 256})
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["errors"]


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_do_the_work_once(tenant):
    api = make_api_client(tenant)

    def call():
        response = ApiClient(api.raw_key).post(
            KEYS, {"name": "race"}, headers={"Idempotency-Key": "race-1"}
        )
        return response.status_code, response.get("Idempotent-Replayed", "")

    results = run_concurrently(*[call] * 4)
    assert sorted(results) == [(201, ""), (201, "true"), (201, "true"), (201, "true")]
    assert _created_keys("race") == 1
    with system_scope():
        assert IdempotencyRecord.objects.filter(key="race-1").count() == 1


def test_purge_command_removes_only_old_records(api, capsys):
    from datetime import timedelta

    from django.core.management import call_command
    from django.utils import timezone

    api.post(KEYS, {"name": "old"}, headers={"Idempotency-Key": "old-key"})
    api.post(KEYS, {"name": "new"}, headers={"Idempotency-Key": "new-key"})
    with system_scope():
        IdempotencyRecord.objects.filter(key="old-key").update(
            created_at=timezone.now() - timedelta(hours=25)
        )
    call_command("purge_idempotency_records")
    assert "1 record(s) deleted" in capsys.readouterr().out
    with system_scope():
        assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new-key"]
    # The purged key may now be used for a new request.
    response = api.post(KEYS, {"name": "again"}, headers={"Idempotency-Key": "old-key"})
    assert response.status_code == 201 and "Idempotent-Replayed" not in response


def test_keys_are_per_partner_key_within_one_tenant(api, tenant):
    """Two integrations of one bank choosing the same key never see each other's response."""
    second_integration = make_api_client(tenant)
    first = api.post(KEYS, {"name": "from-a"}, headers={"Idempotency-Key": "order-1"})
    second = second_integration.post(
        KEYS, {"name": "from-b"}, headers={"Idempotency-Key": "order-1"}
    )
    assert first.status_code == second.status_code == 201
    assert "Idempotent-Replayed" not in second
    assert second.json() == {"name": "from-b"}
    assert views.CALLS["work"] == 2
    again = second_integration.post(
        KEYS, {"name": "from-b"}, headers={"Idempotency-Key": "order-1"}
    )
    assert again["Idempotent-Replayed"] == "true" and again.json() == {"name": "from-b"}


def test_a_non_idempotent_operation_refuses_the_header(api):
    response = api.post("/api/v1/test/echo", {"name": "x"}, headers={"Idempotency-Key": "k-9"})
    assert response.status_code == 400
    body = response.json()
    assert body["type"].endswith("/idempotency-key-not-supported")
    assert list(body["errors"]) == ["Idempotency-Key"]
    assert views.CALLS["work"] == 0
    with system_scope():
        assert not IdempotencyRecord.objects.exists()
    # Without the header the operation runs as usual.
    assert api.post("/api/v1/test/echo", {"name": "x"}).status_code == 201


def test_a_safe_method_ignores_the_header(api):
    assert api.get(KEYS, headers={"Idempotency-Key": "k-10"}).status_code == 200
