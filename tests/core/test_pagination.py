import pytest

from core.context import system_scope
from core.services import issue_partner_key

pytestmark = pytest.mark.urls("tests.core.urls")


@pytest.fixture
def many_keys(tenant, other_tenant):
    with system_scope():
        for n in range(7):
            issue_partner_key(tenant=tenant, name=f"k{n}", scopes=[])
        issue_partner_key(tenant=other_tenant, name="foreign", scopes=[])


def test_keyset_pages_cover_everything_once(api, many_keys):
    names, cursor = [], None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        body = api.get("/api/v1/test/keys", params).json()
        names += [row["name"] for row in body["data"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    # 7 created here + the client's own key; never the other tenant's.
    assert len(names) == len(set(names)) == 8
    assert "foreign" not in names


@pytest.mark.parametrize("limit", ["0", "201", "abc", "-1"])
def test_bad_limit_is_400(api, limit):
    response = api.get("/api/v1/test/keys", {"limit": limit})
    assert response.status_code == 400
    assert "limit" in response.json()["errors"]


def test_tampered_cursor_is_400(api, many_keys):
    cursor = api.get("/api/v1/test/keys", {"limit": 2}).json()["next_cursor"]
    response = api.get("/api/v1/test/keys", {"cursor": cursor[:-3] + "xyz"})
    assert response.status_code == 400
    assert "cursor" in response.json()["errors"]


def test_page_query_count_does_not_depend_on_page_size(
    api, many_keys, django_assert_max_num_queries
):
    with django_assert_max_num_queries(4):
        assert len(api.get("/api/v1/test/keys", {"limit": 2}).json()["data"]) == 2
    with django_assert_max_num_queries(4):
        assert len(api.get("/api/v1/test/keys", {"limit": 200}).json()["data"]) == 8
