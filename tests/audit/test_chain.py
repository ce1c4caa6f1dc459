"""The hash chain: sealed after commit, verified end to end, and any tampering found at the
event where it happened. Transactional: sealing sees only committed work."""

import itertools

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.utils import DatabaseError

from audit.models import AppendOnlyError, AuditChainHead, AuditEvent
from audit.verification import verify_chain
from core.context import system_scope, tenant_context
from tests.audit.helpers import events, raw_sql_without_triggers, seal_everything
from tests.conftest import postgres_only
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def chain(tenant, other_tenant):
    """Five committed, sealed customer creations and updates of `tenant`, two of the other."""
    with tenant_context(tenant):
        for name in ("Ada", "Ben", "Cy"):
            CustomerFactory(tenant=tenant, first_name=name)
        customer = CustomerFactory(tenant=tenant)
        customer.first_name = "Renamed"
        customer.save()
    with tenant_context(other_tenant):
        CustomerFactory(tenant=other_tenant)
    seal_everything()
    return [e for e in events(tenant_id=tenant.pk) if e.resource_type == "customers.customer"]


def verify(tenant):
    return verify_chain(tenant.pk)


def test_events_are_sealed_into_one_linked_chain_per_tenant(chain, tenant, other_tenant):
    mine = events(tenant_id=tenant.pk)
    assert [e.seq for e in mine] == list(range(1, len(mine) + 1))
    assert mine[0].previous_hash is None
    for before, after in itertools.pairwise(mine):
        assert after.previous_hash == before.hash
    report = verify(tenant)
    assert (report.verified, report.waiting, report.broken) == (len(mine), 0, None)
    theirs = events(tenant_id=other_tenant.pk)
    assert [e.seq for e in theirs] == list(range(1, len(theirs) + 1))
    with system_scope():
        head = AuditChainHead._base_manager.get(tenant=tenant)
    assert (head.last_seq, head.last_hash) == (mine[-1].seq, mine[-1].hash)


def test_sealing_happens_after_commit_without_the_command(tenant):
    with tenant_context(tenant), transaction.atomic():
        customer = CustomerFactory(tenant=tenant)
        (event,) = events(resource_id=customer.reference)
        assert event.hash is None  # appended without a lock, not linked yet
    if connection.vendor == "postgresql":
        # A transaction elsewhere on the server may hold the horizon back at this commit;
        # the command (or the next commit) then seals what the on-commit sealer left.
        seal_everything()
    (event,) = events(resource_id=customer.reference)
    assert event.hash and event.seq


def test_changed_content_fails_at_that_event(chain, tenant):
    target = chain[2]
    with raw_sql_without_triggers() as cursor:
        cursor.execute(
            "UPDATE audit_auditevent SET actor = 'user:someone-else' WHERE id = %s", [target.pk]
        )
    report = verify(tenant)
    assert report.broken.event_id == target.pk
    assert "content does not match" in report.broken.reason
    with pytest.raises(CommandError, match=f"event #{target.pk} "):
        call_command("verify_audit_chain", tenant="harbour")


def test_rehashed_content_fails_at_the_next_link(chain, tenant):
    from audit.chain import event_hash

    target, following = chain[1], chain[2]
    with system_scope():
        values = AuditEvent._base_manager.filter(pk=target.pk).values().get()
    values["actor"] = "user:forger"
    forged = event_hash(values["previous_hash"], values)
    with raw_sql_without_triggers() as cursor:
        cursor.execute(
            "UPDATE audit_auditevent SET actor = 'user:forger', hash = %s WHERE id = %s",
            [forged, target.pk],
        )
    broken = verify(tenant).broken
    assert broken.event_id == following.pk and "link" in broken.reason


def test_deleted_event_fails_at_the_gap(chain, tenant):
    gone, after = chain[2], chain[3]
    with raw_sql_without_triggers() as cursor:
        cursor.execute("DELETE FROM audit_auditeventlink WHERE event_id = %s", [gone.pk])
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [gone.pk])
    broken = verify(tenant).broken
    assert broken.event_id == after.pk
    assert f"position {gone.seq} is missing" in broken.reason
    with pytest.raises(CommandError, match=f"event #{after.pk} .*position {gone.seq} is missing"):
        call_command("verify_audit_chain", tenant="harbour")


def test_deleted_last_event_fails_against_the_head(chain, tenant):
    last = events(tenant_id=tenant.pk)[-1]
    with raw_sql_without_triggers() as cursor:
        cursor.execute("DELETE FROM audit_auditeventlink WHERE event_id = %s", [last.pk])
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [last.pk])
    broken = verify(tenant).broken
    assert broken.event_id is None and "head records position" in broken.reason
    with pytest.raises(CommandError, match="head records position"):
        call_command("verify_audit_chain", tenant="harbour")


def test_swapped_events_fail_at_the_first_of_them(chain, tenant):
    first, second = chain[1], chain[3]
    with raw_sql_without_triggers() as cursor:  # swap their places in the chain
        cursor.execute("UPDATE audit_auditevent SET seq = -1 WHERE id = %s", [first.pk])
        cursor.execute("UPDATE audit_auditevent SET seq = %s WHERE id = %s", [first.seq, second.pk])
        cursor.execute("UPDATE audit_auditevent SET seq = %s WHERE id = %s", [second.seq, first.pk])
    broken = verify(tenant).broken
    assert broken.event_id == second.pk and broken.seq == first.seq
    with pytest.raises(CommandError, match=f"event #{second.pk} "):
        call_command("verify_audit_chain", tenant="harbour")


def test_verify_command_reports_waiting_events_and_intact_chains(chain, tenant, capsys):
    with tenant_context(tenant), transaction.atomic():
        # A commit whose sealing has not run yet: written with on-commit sealing off.
        from django.test import override_settings

        with override_settings(AUDIT_SEAL_ON_COMMIT=False):
            CustomerFactory(tenant=tenant)
    call_command("verify_audit_chain")
    out = capsys.readouterr()
    assert f"harbour: {len(events(tenant_id=tenant.pk)) - 1} events verified, 1 waiting" in out.out
    assert "northwind" in out.out and "intact" in out.out
    assert "events (100 %" in out.err  # the progress line


def test_model_refuses_change_and_delete(chain):
    event = chain[0]
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError), tenant_context(event.tenant):
        AuditEvent.objects.all().delete()
    with pytest.raises(AppendOnlyError), tenant_context(event.tenant):
        AuditEvent.objects.update(actor="x")


@postgres_only
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_auditevent SET actor = 'x' WHERE id = %s",
        "UPDATE audit_auditevent SET hash = repeat('0', 64) WHERE id = %s",
        "DELETE FROM audit_auditevent WHERE id = %s",
        "UPDATE audit_auditeventlink SET resource_id = 'x' WHERE event_id = %s",
        "DELETE FROM audit_auditeventlink WHERE event_id = %s",
    ],
)
def test_postgresql_trigger_refuses_plain_update_and_delete(chain, tenant, statement):
    with (
        tenant_context(tenant),  # the rows are visible: only the trigger stands in the way
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement, [chain[0].pk])
