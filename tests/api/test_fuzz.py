"""Fuzz every documented endpoint in-process: no 5xx, and every answer matches its schema.

Endpoints added later are picked up from the OpenAPI document automatically. Data seeded by the
`fuzz_data` hook (see `seed`) gives the fuzzer real objects to find besides random references.
"""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from core.api.openapi import build_document
from tests.conftest import make_api_client

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def wsgi_app():
    """The real WSGI app, minus per-request connection closing (as Django's test client does),
    so requests run inside the test's transaction."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield get_wsgi_application()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def api_schema(db):
    schema = schemathesis.openapi.from_dict(build_document())
    return schema


@pytest.fixture
def fuzz_key(tenant):
    from tests.api.seed import seed

    seed(tenant)
    return make_api_client(tenant).raw_key


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_endpoint_survives_fuzzing(case, fuzz_key, wsgi_app):
    response = case.call(app=wsgi_app, headers={"Authorization": f"Bearer {fuzz_key}"})
    case.validate_response(response, checks=CHECKS)
