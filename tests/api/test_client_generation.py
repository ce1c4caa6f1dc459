"""A partner can generate a working Python client from /api/v1/openapi.json.

openapi-python-client (a dev dependency) generates the client into a temporary folder; any
warning fails the test, since the generator drops what it cannot read. The generated package is
then imported and used against the real app, in-process.
"""

import importlib
import json
import shlex
import subprocess
import sys
from importlib.util import find_spec

import httpx
import pytest
from django.core.serializers.json import DjangoJSONEncoder
from ruff.__main__ import find_ruff_bin

from core.api.openapi import build_document
from tests.api.test_response_schemas import JANE

pytestmark = pytest.mark.skipif(
    find_spec("openapi_python_client") is None,
    reason="openapi-python-client is not installed (pip install -r requirements-dev.txt)",
)

PACKAGE = "ledgerline_client"


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("generated")
    document = workdir / "openapi.json"
    document.write_text(json.dumps(build_document(), cls=DjangoJSONEncoder))
    # The generator formats its output with ruff: the binary installed here (found without
    # PATH), ignoring any configuration; ruff works offline.
    ruff = shlex.quote(find_ruff_bin())
    config = workdir / "config.json"
    config.write_text(
        json.dumps(
            {
                "post_hooks": [
                    f"{ruff} check . --isolated --fix-only --extend-select=I --quiet",
                    f"{ruff} format . --isolated --quiet",
                ]
            }
        )
    )
    result = subprocess.run(  # noqa: S603 (our own interpreter and arguments)
        [
            *(sys.executable, "-m", "openapi_python_client", "generate"),
            *("--path", str(document), "--config", str(config), "--meta", "none"),
            *("--output-path", str(workdir / PACKAGE), "--fail-on-warning"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "warning" not in output.lower(), output
    sys.path.insert(0, str(workdir))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(workdir))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def _module(generated, name):
    return importlib.import_module(f"{generated.__name__}.{name}")


def test_the_client_has_one_model_per_shared_schema(generated):
    models = _module(generated, "models")
    for name in ("Customer", "CustomerList", "Relationship", "BeneficialOwner", "AuditEvent",
                 "AuditEventList", "Problem", "Account", "AccountList", "Transaction",
                 "TransactionList", "Transfer", "Hold", "HoldList",
                 "TransactionKind"):  # fmt: skip
        assert hasattr(models, name), name
    assert not [name for name in dir(models) if "Response200" in name or "Response201" in name]
    assert not [name for name in dir(models) if name.endswith(("Type", "Status", "Rating"))
                and name not in ("CustomerType", "CustomerStatus", "KycStatus", "RiskRating",
                                 "RelationshipType", "AccountStatus", "HoldStatus",
                                 "LoanStatus", "InstallmentStatus",
                                 "CollateralType", "OriginationFeeType",
                                 "PenaltyType")]  # fmt: skip
    api = _module(generated, "api.customers")
    for name in ("create_customer", "list_customers", "get_customer", "update_customer",
                 "delete_customer", "add_relationship", "get_customer_history"):  # fmt: skip
        assert importlib.import_module(f"{api.__name__}.{name}")
    api = _module(generated, "api.accounts")
    for name in ("open_account", "list_accounts", "create_deposit", "create_transfer",
                 "list_transactions", "place_hold", "release_hold"):  # fmt: skip
        assert importlib.import_module(f"{api.__name__}.{name}")
    assert hasattr(models, "Loan") and hasattr(models, "LoanQuote")
    api = _module(generated, "api.lending")
    for name in ("quote_loan", "apply_for_loan", "approve_loan", "disburse_loan",
                 "create_repayment", "get_loan_payoff", "add_collateral"):  # fmt: skip
        assert importlib.import_module(f"{api.__name__}.{name}")


def test_the_client_creates_reads_updates_and_lists(generated, api, wsgi_app):
    models = _module(generated, "models")
    calls = _module(generated, "api.customers")
    client = generated.AuthenticatedClient(
        base_url="http://testserver/api/v1",
        token=api.raw_key,
        httpx_args={"transport": httpx.WSGITransport(app=wsgi_app)},
    )

    def call(name, **kwargs):
        return importlib.import_module(f"{calls.__name__}.{name}").sync(client=client, **kwargs)

    created = call("create_customer", body=models.CreateCustomerBody.from_dict(JANE))
    assert isinstance(created, models.Customer), created
    assert created.address.city == "London" and created.national_id == "*****456C"

    fetched = call("get_customer", ref=created.reference)
    assert isinstance(fetched, models.Customer) and fetched.reference == created.reference

    updated = call(
        "update_customer",
        ref=created.reference,
        body=models.UpdateCustomerBody.from_dict({"email": "j@x.io"}),
    )
    assert isinstance(updated, models.Customer) and updated.email == "j@x.io"

    page = call("list_customers", limit=10)
    assert isinstance(page, models.CustomerList)
    assert [type(c) for c in page.data] == [models.Customer] and page.next_cursor is None

    history = call("get_customer_history", ref=created.reference)
    assert isinstance(history, models.AuditEventList)
    assert history.data[0].changes["email"] == ["jane@example.com", "j@x.io"]

    missing = call("get_customer", ref="CUS-999999")
    assert isinstance(missing, models.Problem) and missing.status == 404

    invalid = call(
        "create_customer", body=models.CreateCustomerBody.from_dict({**JANE, "phone": "12"})
    )
    assert isinstance(invalid, models.Problem) and invalid.status == 400
    assert "phone" in invalid.errors.additional_properties
