"""Money under concurrency (PostgreSQL, real transactions in threads): nothing is lost,
created, posted twice or overdrawn, and no movement fails for anything but a business rule.
Also the retry of transient failures, which needs no database."""

import io
import random
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import OperationalError, transaction
from django.db.models import Sum

from accounts import services
from accounts.models import AccountBalance, Journal
from core.context import tenant_context
from core.db.retry import retry_transient
from core.errors import RuleViolation
from tests.accounts.factories import funded_account
from tests.concurrency import run_concurrently
from tests.conftest import postgres_only

D = Decimal


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_random_transfers_and_racing_withdrawals_conserve_money(tenant):
    """6 threads make 50 random transfers each among five accounts (some overdraft), while 2
    threads race 20 withdrawals each of 10.00 from an account holding 100.00."""
    with tenant_context(tenant):
        pool = [
            funded_account(tenant, "500.00", overdraft_limit=D(limit))
            for limit in ("0", "0", "50", "100", "0")
        ]
        target = funded_account(tenant, "100.00")
        funded = D("2600.00")

        def transfers(seed):
            rng = random.Random(seed)
            done = refused = 0
            for _ in range(50):
                source, destination = rng.sample(pool, 2)
                amount = D(rng.randint(1, 40000)) / 100
                try:
                    services.transfer(from_account=source, to_account=destination, amount=amount)
                    done += 1
                except RuleViolation:
                    refused += 1
            return done, refused

        def withdrawals():
            done = refused = 0
            for _ in range(20):
                try:
                    services.withdraw(account=target, amount="10.00")
                    done += 1
                except RuleViolation:
                    refused += 1
            return done, refused

        outcomes = run_concurrently(
            *[lambda seed=seed: transfers(seed) for seed in range(6)], withdrawals, withdrawals
        )
        failures = [o for o in outcomes if isinstance(o, BaseException)]
        assert not failures, failures
        transferred = sum(o[0] for o in outcomes[:6])
        assert transferred > 100  # the run really moved money (most transfers fit)
        assert sum(o[0] for o in outcomes[6:]) == 10  # exactly what the target held

        balances = {
            row.account_id: row
            for row in AccountBalance.objects.select_related("account").filter(
                account__in=[*pool, target]
            )
        }
        assert balances[target.pk].balance == 0
        assert sum(row.balance for row in balances.values()) == funded - D("100.00")
        for row in balances.values():
            assert row.balance >= -row.account.overdraft_limit, row.account.reference
        assert AccountBalance.objects.aggregate(total=Sum("balance"))["total"] == 0
        assert Journal.objects.filter(kind="transfer").count() == transferred
    out = io.StringIO()
    call_command("reconcile_ledger", "--no-progress", stdout=out)
    assert "harbour: balanced" in out.getvalue()


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_of_one_deposit_post_once(tenant):
    with tenant_context(tenant):
        account = funded_account(tenant, "0")
        outcomes = run_concurrently(
            *[
                lambda: services.deposit(account=account, amount="25.00", idempotency_key="dep-9")
                for _ in range(8)
            ]
        )
        assert not [o for o in outcomes if isinstance(o, BaseException)], outcomes
        assert len({posting.pk for posting in outcomes}) == 1
        assert AccountBalance.objects.get(account=account).balance == D("25.00")
        assert Journal.objects.filter(idempotency_key="dep-9").count() == 1


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_freeze_racing_transfers_is_seen_by_every_later_transfer(tenant):
    """Each transfer either completes before the freeze or is refused after it; the account
    is never credited once frozen."""
    with tenant_context(tenant):
        source, frozen = funded_account(tenant, "100.00"), funded_account(tenant, "0")

        def credit():
            try:
                return services.transfer(from_account=source, to_account=frozen, amount="1.00")
            except RuleViolation as refusal:
                return refusal

        outcomes = run_concurrently(
            *[credit for _ in range(6)], lambda: services.freeze_account(account=frozen)
        )
        assert not [
            o for o in outcomes if isinstance(o, Exception) and not isinstance(o, RuleViolation)
        ]
        credited = sum(isinstance(o, Journal) for o in outcomes)
        assert AccountBalance.objects.get(account=frozen).balance == credited
        frozen_at = frozen.history.filter(status="frozen").get().history_date
        assert not frozen.postings.filter(posted_at__gt=frozen_at).exists()


class Deadlock(Exception):
    sqlstate = "40P01"


def transient_error():
    error = OperationalError("deadlock detected")
    error.__cause__ = Deadlock()
    return error


def test_a_transient_failure_is_retried_a_bounded_number_of_times():
    calls = []

    @retry_transient(attempts=3)
    def flaky(fail_times):
        calls.append(1)
        if len(calls) <= fail_times:
            raise transient_error()
        return "done"

    assert flaky(2) == "done" and len(calls) == 3
    calls.clear()
    with pytest.raises(OperationalError):
        flaky(3)
    assert len(calls) == 3


def test_inside_a_transaction_a_transient_failure_belongs_to_the_caller(db):
    calls = []

    @retry_transient
    def flaky():
        calls.append(1)
        raise transient_error()

    with pytest.raises(OperationalError), transaction.atomic():
        flaky()
    assert len(calls) == 1


def test_a_nested_retry_passes_through_so_the_bound_holds_overall():
    calls = []

    @retry_transient(attempts=3)
    def inner():
        calls.append(1)
        raise transient_error()

    @retry_transient(attempts=3)
    def outer():
        return inner()

    with pytest.raises(OperationalError):
        outer()
    assert len(calls) == 3


def test_other_errors_are_not_retried():
    calls = []

    @retry_transient
    def broken():
        calls.append(1)
        raise OperationalError("connection refused")

    with pytest.raises(OperationalError):
        broken()
    assert len(calls) == 1
