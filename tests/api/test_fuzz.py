"""Fuzz every documented endpoint in-process: no 5xx, and every answer matches its schema.

Endpoints added later are picked up from the OpenAPI document automatically. Rows seeded by
`tests/api/seed.py` give the fuzzer real objects to hit besides random references.
"""

import itertools

import pytest
import schemathesis
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
def api_schema(db):
    schema = schemathesis.openapi.from_dict(build_document())
    return schema


@pytest.fixture
def fuzz_target(tenant, settings):
    """An all-scopes key, and real path parameters to use every other request."""
    from tests.api.seed import seed

    settings.API_RATE_LIMIT = 1_000_000  # the fuzzer is not what the limit is for
    real = seed(tenant)
    turns = itertools.cycle([False, True])
    return make_api_client(tenant).raw_key, real, turns


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_endpoint_survives_fuzzing(case, fuzz_target, wsgi_app):
    raw_key, real, turns = fuzz_target
    if case.path_parameters and case.method != "DELETE" and next(turns):
        # Random references only ever find nothing: half the time, aim at real objects (not
        # with DELETE, which would remove them for the endpoints fuzzed after it).
        for name, values in real.items():
            if name in case.path_parameters:
                case.path_parameters[name] = values[len(str(case.body)) % len(values)]
    response = case.call(app=wsgi_app, headers={"Authorization": f"Bearer {raw_key}"})
    assert response.status_code < 500, response.text  # never a 500 for anything a client sent
    case.validate_response(response, checks=CHECKS)
