"""The background sealer: a commit hands its chain over and returns; the process's sealer seals
the chains of many commits in one pass, shortly after."""

import time
from unittest import mock

import pytest
from django.db import transaction
from django.test import override_settings

from audit import sealer as sealer_module
from audit.verification import verify_chain
from core.context import tenant_context
from tests.audit.helpers import events
from tests.conftest import postgres_only
from tests.customers.factories import CustomerFactory

# A thread of its own with its own connection: only PostgreSQL lets it run beside the test's.
pytestmark = [postgres_only, pytest.mark.django_db(transaction=True)]


def wait_until_sealed(tenant, expected, seconds=30):
    for _attempt in range(seconds * 10):
        sealed = [e for e in events(tenant_id=tenant.pk) if e.hash is not None]
        if len(sealed) >= expected:
            return sealed
        time.sleep(0.1)
    raise AssertionError(f"{len(sealed)} of {expected} events sealed after {seconds} s")


def test_commits_are_sealed_in_the_background_in_few_passes(tenant):
    with override_settings(AUDIT_SEAL_DELAY=0.5), tenant_context(tenant):
        passes = mock.Mock(wraps=sealer_module.seal_chain)
        with mock.patch.object(sealer_module, "seal_chain", passes):
            for number in range(5):
                with transaction.atomic():
                    CustomerFactory(tenant=tenant, reference=f"BG-{number}")
            # Nothing was sealed in the committing thread ...
            assert all(e.hash is None for e in events(resource_type="customers.customer"))
            # ... the sealer did it, in one pass (two if the commits straddled its delay).
            sealed = wait_until_sealed(tenant, len(events(tenant_id=tenant.pk)))
        assert 1 <= passes.call_count <= 2
    report = verify_chain(tenant.pk)
    assert (report.verified, report.waiting, report.broken) == (len(sealed), 0, None)


def test_requested_chains_are_sealed_on_exit(tenant):
    # A management command ends before the delay: its exit hook seals what it asked for.
    with override_settings(AUDIT_SEAL_DELAY=600), tenant_context(tenant):
        with transaction.atomic():
            customer = CustomerFactory(tenant=tenant)
        assert events(resource_id=customer.reference)[0].hash is None
        sealer_module._seal_before_exit()
    report = verify_chain(tenant.pk)
    assert (report.waiting, report.broken) == (0, None) and report.verified >= 2


def test_a_failed_pass_is_logged_and_leaves_the_events_waiting(tenant, caplog):
    with override_settings(AUDIT_SEAL_DELAY=600), tenant_context(tenant):
        with transaction.atomic():
            CustomerFactory(tenant=tenant)
        with mock.patch.object(sealer_module, "seal_chain", side_effect=RuntimeError("down")):
            sealer_module.sealer.seal_requested()
    assert "seal_audit_chain" in caplog.text
    assert verify_chain(tenant.pk).waiting >= 1
