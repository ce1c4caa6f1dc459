"""purge_audit: old events and history rows go, the rest of the chain still verifies, and the
minimum retention holds."""

import datetime

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from audit.models import AuditChainHead, AuditEventLink
from audit.services import record_event
from audit.verification import verify_chain
from core.context import system_scope, tenant_context
from core.models import Tenant
from customers.models import Customer
from tests.audit.helpers import events, seal_everything
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db(transaction=True)

YEAR = datetime.timedelta(days=365)


@pytest.fixture
def old_bank(settings):
    """A tenant whose chain starts with three 10-year-old events, then one of today."""
    settings.AUDIT_MIN_RETENTION_DAYS = 7 * 365
    # bulk_create: no history row, so the chain starts with the old events below.
    (tenant,) = Tenant.objects.bulk_create([Tenant(name="Old Bank", slug="old-bank")])
    now = timezone.now()
    with tenant_context(tenant):
        for n in range(3):
            record_event(
                action="deposit",
                resource_type="accounts.account",
                resource_id=f"ACC-{n}",
                related=["customers.customer:CUS-1"],
                occurred_at=now - 10 * YEAR + n * datetime.timedelta(hours=1),
            )
    seal_everything()
    with tenant_context(tenant):
        record_event(action="deposit", resource_type="accounts.account", resource_id="ACC-new")
    seal_everything()
    return tenant


def test_purge_cuts_the_old_prefix_and_the_rest_still_verifies(old_bank):
    chain = events(tenant_id=old_bank.pk)
    assert [e.seq for e in chain] == [1, 2, 3, 4]
    call_command("purge_audit", older_than=7 * 365)
    (kept,) = events(tenant_id=old_bank.pk)
    assert kept.resource_id == "ACC-new"
    with system_scope():
        head = AuditChainHead._base_manager.get(tenant=old_bank)
        purged_links = AuditEventLink._base_manager.filter(event_id__in=[e.pk for e in chain[:3]])
        assert not purged_links.exists()
    assert (head.purged_through_seq, head.purged_hash) == (3, chain[2].hash)
    report = verify_chain(old_bank.pk)
    assert (report.verified, report.broken) == (1, None)
    # Later events keep linking on from the head, and verification keeps starting at the cut.
    with tenant_context(old_bank):
        record_event(action="deposit", resource_type="accounts.account", resource_id="ACC-2")
    seal_everything()
    assert verify_chain(old_bank.pk).verified == 2
    call_command("purge_audit", older_than=7 * 365)  # nothing more is old enough
    assert len(events(tenant_id=old_bank.pk)) == 2


def test_a_recent_event_stops_the_cut(old_bank, tenant):
    """The tenant fixture's chain starts with its (recent) creation: nothing of it goes, even
    events older than the cutoff that come after it, so the chain never gets a hole."""
    now = timezone.now()
    with tenant_context(tenant):
        record_event(
            action="deposit", resource_type="x.y", resource_id="1", occurred_at=now - 10 * YEAR
        )
    seal_everything()
    before = events(tenant_id=tenant.pk)
    call_command("purge_audit", older_than=7 * 365)
    assert events(tenant_id=tenant.pk) == before
    assert verify_chain(tenant.pk).broken is None


def test_history_rows_go_except_each_objects_state_at_the_cutoff(tenant, settings):
    settings.AUDIT_MIN_RETENTION_DAYS = 7 * 365
    with tenant_context(tenant):
        customer = CustomerFactory(tenant=tenant, first_name="First")
        customer.first_name = "Second"
        customer.save()
        Customer.history.filter(id=customer.pk).update(history_date=timezone.now() - 10 * YEAR)
        customer.first_name = "Third"
        customer.save()
    call_command("purge_audit", older_than=7 * 365)
    with tenant_context(tenant):
        rows = Customer.history.filter(id=customer.pk).order_by("history_id")
        assert [r.first_name for r in rows] == ["Second", "Third"]


def test_refuses_below_the_minimum_retention(old_bank, settings):
    settings.AUDIT_MIN_RETENTION_DAYS = 2557
    with pytest.raises(CommandError, match="minimum retention of 2557 days"):
        call_command("purge_audit", older_than=2556)
    assert len(events(tenant_id=old_bank.pk)) == 4
