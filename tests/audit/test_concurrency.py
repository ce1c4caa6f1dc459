"""Concurrent writers of one tenant never wait on a chain lock, and once sealed their events
form one unbroken, gap-free chain, even when a transaction that wrote early commits last."""

import threading

import pytest
from django.db import connection, transaction

from audit.models import AuditEvent
from audit.sealing import seal_chain
from audit.verification import verify_chain
from core.context import system_scope, tenant_context
from tests.audit.helpers import events, seal_everything
from tests.conftest import postgres_only
from tests.customers.factories import CustomerFactory

pytestmark = [postgres_only, pytest.mark.django_db(transaction=True)]

WRITERS = 6
WRITES_EACH = 5


def in_thread(target, *args):
    """Run `target` in a thread with its own connection, re-raising what it raised."""
    failures = []

    def run():
        try:
            target(*args)
        except BaseException as error:
            failures.append(error)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, failures


def test_concurrent_writers_and_a_late_committer_form_one_gap_free_chain(tenant):
    early_written = threading.Event()
    others_done = threading.Event()

    def late_committer():
        with tenant_context(tenant), transaction.atomic():
            # Explicit references: the reference counter's row lock would make them take turns.
            CustomerFactory(tenant=tenant, first_name="Early", reference="EARLY")  # first ...
            early_written.set()
            assert others_done.wait(60)
            # ... while the others commit and seal; it commits last.

    def writer(number):
        assert early_written.wait(60)
        for write in range(WRITES_EACH):
            with tenant_context(tenant), transaction.atomic():
                CustomerFactory(tenant=tenant, reference=f"W{number}-{write}")

    late, late_failures = in_thread(late_committer)
    writers = [in_thread(writer, number) for number in range(WRITERS)]
    for thread, failures in writers:
        thread.join(120)
        assert not thread.is_alive() and not failures, failures
    # The writers sealed on commit; none of their events may be sealed before the still
    # running early transaction's event (it is below them in the horizon): they all wait.
    seal_chain(tenant.pk)
    with system_scope():
        customer_events = AuditEvent._base_manager.filter(
            tenant=tenant, resource_type="customers.customer"
        )
        assert customer_events.count() == WRITERS * WRITES_EACH  # the early one is invisible
        assert not customer_events.filter(hash__isnull=False).exists()
    others_done.set()
    late.join(120)
    assert not late.is_alive() and not late_failures, late_failures
    seal_everything()
    chain = events(tenant_id=tenant.pk)
    assert len(chain) == 1 + WRITERS * WRITES_EACH + 1  # the tenant's creation, all customers
    assert sorted(e.seq for e in chain) == list(range(1, len(chain) + 1))  # no gap
    report = verify_chain(tenant.pk)
    assert (report.verified, report.waiting, report.broken) == (len(chain), 0, None)
    # The chain's order is the writing transactions' order: the early event comes first.
    ordered = sorted(chain, key=lambda e: e.seq)
    early = next(e for e in chain if e.changes.get("first_name") == [None, "Early"])
    assert ordered[1].pk == early.pk
