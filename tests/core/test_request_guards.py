"""Query strings PostgreSQL could not take: refused once for every admin page and endpoint."""

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from tests.factories import UserFactory

CHANGELISTS = [
    reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    for model in admin.site._registry
]
# Search, list filters, the date hierarchy, ordering, paging, and a parameter name itself.
NUL_QUERIES = [
    "q=%00",
    "status=%00",
    "type__exact=%00",
    "created_at__year=%00",
    "created_at__year=2024&created_at__month=%00",
    "o=%00",
    "p=%00",
    "%00=1",
]


@pytest.fixture
def superuser_client(db):
    client = Client()
    client.force_login(UserFactory(username="root", is_superuser=True, is_staff=True))
    return client


@pytest.mark.parametrize("url", CHANGELISTS)
@pytest.mark.parametrize("query", NUL_QUERIES)
def test_nul_in_any_changelist_parameter_is_400(superuser_client, staff_client, url, query):
    for client in (superuser_client, staff_client):
        response = client.get(f"{url}?{query}")
        assert response.status_code == 400, (url, query, response.status_code)
        assert b"NUL" in response.content


@pytest.mark.parametrize("url", CHANGELISTS)
def test_invalid_utf8_in_a_changelist_search_is_a_normal_page(superuser_client, url):
    # Lone surrogates (UTF-8 encoded) and stray bytes arrive as U+FFFD: nothing to refuse.
    assert superuser_client.get(f"{url}?q=%ED%A0%80%FF").status_code == 200


def test_nul_in_an_autocomplete_term_is_400(staff_client):
    response = staff_client.get(
        "/admin/autocomplete/",
        {
            "term": "\x00",
            "app_label": "customers",
            "model_name": "customerrelationship",
            "field_name": "customer",
        },
    )
    assert response.status_code == 400


def test_a_query_without_nul_is_untouched(staff_client):
    assert staff_client.get("/admin/customers/customer/?q=acme&status=active").status_code == 200
