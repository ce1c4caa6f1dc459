"""The OpenAPI document: valid, complete, and built only from explicit declarations."""

import re

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.http import JsonResponse
from django.urls import URLPattern, URLResolver, get_resolver, include, path
from openapi_spec_validator import validate

from core.api import schema as schema_module
from core.api.endpoint import ApiView, operation
from core.api.openapi import build_document
from core.api.schema import component, schema_ref

OPERATION_IDS = {
    ("get", "/customers"): "listCustomers",
    ("post", "/customers"): "createCustomer",
    ("get", "/customers/{ref}"): "getCustomer",
    ("patch", "/customers/{ref}"): "updateCustomer",
    ("delete", "/customers/{ref}"): "deleteCustomer",
    ("get", "/customers/{ref}/relationships"): "listRelationships",
    ("post", "/customers/{ref}/relationships"): "addRelationship",
    ("delete", "/customers/{ref}/relationships/{relationship_id}"): "endRelationship",
    ("get", "/customers/{ref}/beneficial-owners"): "getBeneficialOwners",
    ("get", "/customers/{ref}/history"): "getCustomerHistory",
    ("get", "/me"): "getMe",
    ("get", "/openapi.json"): "getOpenApiDocument",
    ("get", "/audit-events"): "listAuditEvents",
    ("get", "/accounts"): "listAccounts",
    ("post", "/accounts"): "openAccount",
    ("get", "/accounts/{ref}"): "getAccount",
    ("patch", "/accounts/{ref}"): "updateAccount",
    ("post", "/accounts/{ref}/freeze"): "freezeAccount",
    ("post", "/accounts/{ref}/unfreeze"): "unfreezeAccount",
    ("post", "/accounts/{ref}/close"): "closeAccount",
    ("get", "/accounts/{ref}/transactions"): "listTransactions",
    ("post", "/accounts/{ref}/deposits"): "createDeposit",
    ("post", "/accounts/{ref}/withdrawals"): "createWithdrawal",
    ("get", "/accounts/{ref}/holds"): "listHolds",
    ("post", "/accounts/{ref}/holds"): "placeHold",
    ("delete", "/accounts/{ref}/holds/{hold_id}"): "releaseHold",
    ("post", "/transfers"): "createTransfer",
}


def test_document_is_valid_openapi_3_1(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"] == "3.1.0"
    validate(document)


# --- every view is documented -----------------------------------------------------------------


def _api_routes(patterns, prefix=""):
    """(route, callback) of every URL under /api/v1/, whatever kind of view serves it."""
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _api_routes(entry.url_patterns, route)
        elif isinstance(entry, URLPattern) and route.startswith("api/v1/"):
            yield route, entry.callback


def undocumented_views(document, urlconf=None):
    """Each URL method under /api/v1/ that the document does not describe."""
    missing = []
    for route, callback in _api_routes(get_resolver(urlconf).url_patterns):
        path_ = "/" + re.sub(r"<(?:[^>:]+:)?([^>]+)>", r"{\1}", route)
        path_ = path_.removeprefix("/api/v1").rstrip("/")
        view_class = getattr(callback, "view_class", None)
        if view_class is None:
            missing.append(f"{path_} (function view {callback.__name__})")
            continue
        documented = document["paths"].get(path_, {})
        for method in view_class.http_method_names:
            if method != "options" and hasattr(view_class, method) and method not in documented:
                missing.append(f"{method.upper()} {path_} ({view_class.__name__})")
    return sorted(set(missing))


def test_every_api_view_is_documented():
    document = build_document()
    assert undocumented_views(document) == []
    # The walk finds the views: every customers endpoint of the contract is among them.
    assert {(m, p) for p, ops in document["paths"].items() for m in ops} == set(OPERATION_IDS)


class _Undeclared(ApiView):
    def get(self, request):  # no @operation: neither served nor documented
        return {}


def _function_view(request):
    return JsonResponse({})


class _BrokenUrls:
    urlpatterns = [
        path("api/v1/", include("core.api.urls")),
        path("api/v1/undeclared", _Undeclared.as_view()),
        path("api/v1/plain", _function_view),
    ]


def test_a_view_missing_from_the_document_is_reported(settings):
    settings.ROOT_URLCONF = _BrokenUrls
    assert undocumented_views(build_document()) == [
        "/plain (function view _function_view)",
        "GET /undeclared (_Undeclared)",
    ]


# --- operation ids ------------------------------------------------------------------------------


def _declared_operations():
    for _route, callback in _api_routes(get_resolver().url_patterns):
        view_class = getattr(callback, "view_class", None)
        for method in getattr(view_class, "http_method_names", ()):
            op = getattr(getattr(view_class, method, None), "operation", None)
            if op is not None:
                yield f"{view_class.__name__}.{method}", op


def test_every_operation_declares_its_own_operation_id():
    owners = {}
    for where, op in _declared_operations():
        assert op.operation_id, f"{where} has no explicit @operation(operation_id=...)"
        owners.setdefault(op.operation_id, set()).add(where)
    shared = {op_id: sorted(views) for op_id, views in owners.items() if len(views) > 1}
    assert not shared, f"operationIds declared more than once: {shared}"


def test_operation_ids_name_the_action():
    document = build_document()
    published = {
        (method, path_): op["operationId"]
        for path_, operations in document["paths"].items()
        for method, op in operations.items()
    }
    assert published == OPERATION_IDS


class _NoId(ApiView):
    @operation(summary="Anonymous", auth=False)
    def get(self, request):
        return None


class _SameId(ApiView):
    @operation(operation_id="getMe", auth=False)
    def get(self, request):
        return None


def _urls(view):
    class Urls:
        urlpatterns = [
            path("api/v1/", include("core.api.urls")),
            path("api/v1/extra", view.as_view()),
        ]

    return Urls


@pytest.mark.parametrize(
    ("view", "message"),
    [(_NoId, "GET /extra .*declare `@operation\\(operation_id"), (_SameId, "share.*'getMe'")],
)
def test_the_document_refuses_a_missing_or_shared_operation_id(settings, view, message):
    settings.ROOT_URLCONF = _urls(view)
    with pytest.raises(ImproperlyConfigured, match=message):
        build_document()


# --- shared, complete schemas ------------------------------------------------------------------


def _schemas(node, where="#"):
    """Every schema-like object in the document, with where it is."""
    if isinstance(node, dict):
        yield where, node
        for key, value in node.items():
            yield from _schemas(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _schemas(value, f"{where}/{index}")


def test_every_array_has_items_and_every_object_says_what_it_holds():
    for where, node in _schemas(build_document()):
        types = node.get("type")
        types = types if isinstance(types, list) else [types]
        if "array" in types:
            assert "items" in node or "prefixItems" in node, f"{where}: array without items"
        if "object" in types:
            assert "properties" in node or "additionalProperties" in node, f"{where}: bare object"


def test_responses_are_shared_components():
    document = build_document()
    schemas = document["components"]["schemas"]
    for name in ("Customer", "CustomerList", "Relationship", "RelationshipList",
                 "BeneficialOwner", "BeneficialOwners", "AuditEvent", "AuditEventList",
                 "Problem", "Me", "Address", "CustomerType", "RelationshipType",
                 "Account", "AccountList", "Transaction", "TransactionList", "Transfer",
                 "Hold", "HoldList", "AccountStatus", "AccountProduct", "TransactionKind",
                 "HoldStatus"):  # fmt: skip
        assert name in schemas, name
    assert schemas["CustomerList"]["properties"]["data"]["items"] == schema_ref("Customer")
    # A form's choice field shares the response's enum: one CustomerType in generated clients.
    create = document["paths"]["/customers"]["post"]["requestBody"]["content"]["application/json"]
    assert create["schema"]["properties"]["type"] == schema_ref("CustomerType")
    filters = {p["name"]: p["schema"] for p in document["paths"]["/customers"]["get"]["parameters"]}
    assert filters["kyc_status"] == schema_ref("KycStatus")
    accounts = {p["name"]: p["schema"] for p in document["paths"]["/accounts"]["get"]["parameters"]}
    assert accounts["status"] == schema_ref("AccountStatus")
    for path_, operations in document["paths"].items():
        for method, op in operations.items():
            for status, response in op["responses"].items():
                for media_type, content in response.get("content", {}).items():
                    assert set(content["schema"]) == {"$ref"}, (
                        f"{method.upper()} {path_} {status} {media_type} is inline"
                    )


@pytest.fixture
def registry(monkeypatch):
    """Declarations made by a test vanish with it (after every app's own are loaded)."""
    schema_module.components()
    monkeypatch.setattr(schema_module, "_COMPONENTS", dict(schema_module._COMPONENTS))


def test_a_component_name_means_one_schema(registry):
    ref = component("Widget", {"type": "object", "properties": {}})
    assert ref == schema_ref("Widget")
    assert component("Widget", {"type": "object", "properties": {}}) == ref  # re-import is fine
    with pytest.raises(ImproperlyConfigured, match="Widget"):
        component("Widget", {"type": "string"})


class _UnknownRef(ApiView):
    @operation(operation_id="getWidget", auth=False, response=schema_ref("Widget"))
    def get(self, request):
        return {}


class _InlineResponse(ApiView):
    @operation(operation_id="getWidget", auth=False, response={"type": "object"})
    def get(self, request):
        return {}


@pytest.mark.parametrize(
    ("view", "message"),
    [
        (_UnknownRef, "No API schema component is declared for '#/components/schemas/Widget'"),
        (_InlineResponse, "GET /extra .*declare the response as a component"),
    ],
)
def test_the_document_refuses_responses_that_are_not_declared_components(
    settings, registry, view, message
):
    settings.ROOT_URLCONF = _urls(view)
    with pytest.raises(ImproperlyConfigured, match=message):
        build_document()


def test_a_declared_component_is_published(settings, registry):
    component("Widget", {"type": "object", "properties": {"name": {"type": "string"}}})
    settings.ROOT_URLCONF = _urls(_UnknownRef)
    document = build_document()
    assert document["components"]["schemas"]["Widget"]["properties"] == {"name": {"type": "string"}}
    response = document["paths"]["/extra"]["get"]["responses"]["200"]
    assert response["content"]["application/json"]["schema"] == schema_ref("Widget")
