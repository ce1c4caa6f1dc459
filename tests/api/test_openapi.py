from openapi_spec_validator import validate

from core.api.openapi import build_document


def test_document_is_valid_openapi_3_1(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"] == "3.1.0"
    validate(document)


def test_every_api_view_is_documented():
    paths = build_document()["paths"]
    assert "/me" in paths and "get" in paths["/me"]
    for path, operations in paths.items():
        for method, op in operations.items():
            assert op["responses"], f"{method.upper()} {path} declares no response"
