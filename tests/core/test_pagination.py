import pytest

from core.context import system_scope
from core.models import PartnerKey
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


def _first_cursor(client):
    cursor = client.get("/api/v1/test/keys", {"limit": 2}).json()["next_cursor"]
    assert cursor
    return cursor


def _readable_forms(cursor):
    """Every way a client could try to read a cursor: base64 of it or of any `:`-separated
    part (as signed values are built), inflated when it is zlib data."""
    import base64
    import binascii
    import contextlib
    import zlib

    for part in [cursor, *cursor.lstrip(".").split(":")]:
        try:
            raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        except (binascii.Error, ValueError):
            continue
        yield raw
        with contextlib.suppress(zlib.error):
            yield zlib.decompress(raw)


def test_cursor_reveals_no_ids_or_timestamps(api, many_keys):
    cursor = _first_cursor(api)
    with system_scope():
        second = PartnerKey.objects.filter(tenant__slug="harbour").order_by("-created_at", "-id")[1]
    forms = list(_readable_forms(cursor))
    assert forms  # the test does look inside
    for readable in forms:
        assert b"after" not in readable and b"created_at" not in readable
        assert f",{second.pk}]".encode() not in readable
        assert str(second.created_at.year).encode() not in readable
    assert _first_cursor(api) != cursor  # a fresh nonce each time: equal pages look unrelated


def test_cursor_of_another_tenant_is_400(api, other_api, many_keys, other_tenant):
    with system_scope():
        for n in range(3):
            issue_partner_key(tenant=other_tenant, name=f"theirs{n}", scopes=[])
    foreign = _first_cursor(other_api)
    response = api.get("/api/v1/test/keys", {"cursor": foreign})
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["cursor"]


def test_cursor_of_another_listing_is_400(api, many_keys):
    from django.test import RequestFactory

    from core.api.pagination import decode_cursor
    from core.context import tenant_context
    from core.models import Tenant

    cursor = _first_cursor(api)
    rf = RequestFactory()
    with tenant_context(Tenant.objects.get(slug="harbour")):
        assert decode_cursor(rf.get("/api/v1/test/keys/"), cursor)["order"]  # slash optional
        with pytest.raises(ValueError):
            decode_cursor(rf.get("/api/v1/customers"), cursor)


def test_cursor_survives_a_secret_key_rotation(api, many_keys, settings):
    cursor = _first_cursor(api)
    old = settings.SECRET_KEY
    settings.SECRET_KEY = "a-new-secret-key-after-rotation-0123456789"
    assert api.get("/api/v1/test/keys", {"cursor": cursor}).status_code == 400
    settings.SECRET_KEY_FALLBACKS = [old]
    assert api.get("/api/v1/test/keys", {"cursor": cursor}).status_code == 200


@pytest.mark.parametrize("cursor", ["%%%", "abc", "A" * 500])
def test_garbage_cursor_is_400(api, cursor):
    response = api.get("/api/v1/test/keys", {"cursor": cursor})
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["cursor"]
