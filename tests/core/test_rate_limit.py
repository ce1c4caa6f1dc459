import pytest


@pytest.fixture
def limit_of_three(settings):
    settings.API_RATE_LIMIT = 3
    settings.API_RATE_LIMIT_WINDOW = 60


def test_request_past_the_limit_is_429_with_retry_after(api, limit_of_three):
    for remaining in (2, 1, 0):
        response = api.get("/api/v1/me")
        assert response.status_code == 200
        assert response["X-RateLimit-Remaining"] == str(remaining)
    response = api.get("/api/v1/me")
    assert response.status_code == 429
    assert response["Content-Type"] == "application/problem+json"
    assert 1 <= int(response["Retry-After"]) <= 60


def test_limits_are_per_key(api, other_api, limit_of_three):
    for _ in range(4):
        api.get("/api/v1/me")
    assert other_api.get("/api/v1/me").status_code == 200


def test_refused_bodies_still_count_and_carry_the_headers(api, limit_of_three):
    response = api.client.post(
        "/api/v1/customers", "{oops", content_type="application/json", headers=api._headers(None)
    )
    assert response.status_code == 400
    assert response["X-RateLimit-Remaining"] == "2"
