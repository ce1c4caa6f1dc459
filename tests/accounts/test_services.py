"""Every rule of accounts and money movements, through the services: happy and refused paths,
and what each leaves behind (journal, postings, balances, audit event) or does not."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from accounts import services
from accounts.models import Account, AccountBalance, Hold, Journal, Posting
from accounts.services import Line
from audit.models import AuditEvent
from core.context import system_scope, tenant_context
from core.errors import Conflict, NotFound, RuleViolation
from customers import services as customer_services
from customers.models import Customer
from tests.accounts.factories import AccountFactory, ActiveCustomerFactory, funded_account
from tests.customers.factories import CustomerFactory

D = Decimal


@pytest.fixture
def account(in_tenant):
    return funded_account(in_tenant, "100.00")


@pytest.fixture
def other(in_tenant):
    return AccountFactory(tenant=in_tenant)


def balance(account):
    return AccountBalance.objects.get(account=account).balance


def available(account):
    return Account.objects.with_balances().get(pk=account.pk).available_balance


def settlement(currency="EUR"):
    return Account.objects.get(internal_code="settlement", currency=currency)


def ledger_counts():
    return Journal.objects.count(), Posting.objects.count()


# --- opening ----------------------------------------------------------------------------------


def test_an_active_verified_customer_opens_an_account(in_tenant, django_user_model):
    customer = ActiveCustomerFactory(tenant=in_tenant)
    clerk = django_user_model.objects.create(username="clara")
    account = services.open_account(
        customer=customer, product="current", currency="EUR", overdraft_limit="50.00", by=clerk
    )
    assert account.reference.startswith("ACC-")
    assert (account.status, account.overdraft_limit, balance(account)) == ("active", D("50"), 0)
    assert available(account) == D("50.00")
    created = account.history.get()
    assert (created.action, created.actor) == ("create", "user:clara")


@pytest.mark.parametrize(
    ("status", "kyc", "why"),
    [
        ("active", "pending", "KYC is pending"),
        ("active", "rejected", "KYC is rejected"),
        ("prospect", "verified", "it is prospect"),
        ("blocked", "verified", "it is blocked"),
    ],
)
def test_only_an_active_verified_customer_opens_an_account(in_tenant, status, kyc, why):
    customer = CustomerFactory(tenant=in_tenant, status=status, kyc_status=kyc)
    with pytest.raises(RuleViolation, match=why):
        services.open_account(customer=customer, product="current", currency="EUR")
    assert not Account.objects.filter(customer=customer).exists()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"product": "crypto"}, "product"),
        ({"currency": "XYZ"}, "currency"),
        ({"currency": "DEM"}, "currency"),
        ({"overdraft_limit": "-1"}, "overdraft_limit"),
        ({"overdraft_limit": "1.001"}, "overdraft_limit"),
        ({"product": "savings", "overdraft_limit": "10"}, "overdraft_limit"),
    ],
)
def test_opening_refuses_bad_input_naming_the_field(in_tenant, fields, field):
    customer = ActiveCustomerFactory(tenant=in_tenant)
    with pytest.raises(ValidationError) as error:
        services.open_account(
            customer=customer, **{"product": "current", "currency": "EUR", **fields}
        )
    assert field in error.value.message_dict


def test_an_account_in_another_currency_gets_internal_accounts_of_that_currency(in_tenant):
    customer = ActiveCustomerFactory(tenant=in_tenant)
    yen = services.open_account(customer=customer, product="savings", currency="JPY")
    posting = services.deposit(account=yen, amount="1500")
    assert posting.balance_after == D("1500")
    assert balance(settlement("JPY")) == D("-1500")
    with pytest.raises(ValidationError):
        services.deposit(account=yen, amount="1.5")


# --- deposits and withdrawals -----------------------------------------------------------------


def test_a_deposit_credits_the_account_from_settlement(in_tenant, account):
    posting = services.deposit(
        account=account, amount="25.50", description="salary", external_reference="PAY-1"
    )
    assert (posting.amount, posting.balance_after, posting.kind) == (
        D("25.50"),
        D("125.50"),
        "deposit",
    )
    assert balance(account) == D("125.50")
    assert balance(settlement()) == D("-125.50")
    journal = Journal.objects.get(pk=posting.journal_id)
    assert sorted(p.amount for p in journal.postings.all()) == [D("-25.50"), D("25.50")]
    assert posting.external_reference == "PAY-1" and posting.description == "salary"


@pytest.mark.parametrize("amount", ["0", "-5", "1.001", 2.5, "ten"])
def test_a_bad_amount_is_a_validation_error_on_amount(in_tenant, account, amount):
    counts = ledger_counts()
    for move in (services.deposit, services.withdraw):
        with pytest.raises(ValidationError) as error:
            move(account=account, amount=amount)
        assert "amount" in error.value.message_dict
    assert ledger_counts() == counts


def test_a_withdrawal_may_use_the_overdraft_but_not_more(in_tenant):
    account = funded_account(in_tenant, "100.00", overdraft_limit=D("50"))
    posting = services.withdraw(account=account, amount="150.00")
    assert posting.balance_after == D("-50.00")
    counts = ledger_counts()
    with pytest.raises(RuleViolation, match="Insufficient available balance on ACC-"):
        services.withdraw(account=account, amount="0.01")
    assert ledger_counts() == counts
    assert balance(account) == D("-50.00")


@pytest.mark.parametrize("freeze", ["freeze_account", "close_account"])
def test_nothing_posts_to_a_frozen_or_closed_account(in_tenant, other, freeze):
    getattr(services, freeze)(account=other)
    for move in (services.deposit, services.withdraw):
        with pytest.raises(RuleViolation, match="nothing posts to it"):
            move(account=other, amount="1.00")
    assert balance(other) == 0


# --- transfers --------------------------------------------------------------------------------


def test_a_transfer_moves_money_between_two_accounts(in_tenant, account, other):
    journal = services.transfer(
        from_account=account, to_account=other, amount="40.00", description="rent"
    )
    debit, credit = journal.posting_list
    assert (debit.account_id, debit.amount, debit.balance_after) == (account.pk, D("-40"), D("60"))
    assert (credit.account_id, credit.amount, credit.balance_after) == (other.pk, D("40"), D("40"))
    assert (balance(account), balance(other)) == (D("60.00"), D("40.00"))
    assert journal.kind == "transfer" and debit.description == "rent"


def test_a_transfer_beyond_the_available_balance_is_refused(in_tenant, account, other):
    with pytest.raises(RuleViolation, match=r"100\.00 EUR available, 100\.01 needed"):
        services.transfer(from_account=account, to_account=other, amount="100.01")
    assert (balance(account), balance(other)) == (D("100.00"), 0)


def test_a_transfer_stays_in_one_currency(in_tenant, account):
    dollars = AccountFactory(tenant=in_tenant, currency="USD")
    with pytest.raises(RuleViolation, match="holds USD, not EUR"):
        services.transfer(from_account=account, to_account=dollars, amount="1.00")
    assert balance(dollars) == 0


def test_a_transfer_needs_two_accounts(in_tenant, account):
    with pytest.raises(ValidationError):
        services.transfer(from_account=account, to_account=account, amount="1.00")


def test_the_ledger_refuses_system_scope_and_writes_nothing(in_tenant, account, other):
    with system_scope(), pytest.raises(ValidationError, match="tenant_context"):
        services.transfer(from_account=account, to_account=other, amount="1.00")
    with system_scope(), pytest.raises(ValidationError, match="tenant_context"):
        services.freeze_account(account=other)
    assert (balance(account), balance(other)) == (D("100.00"), 0)
    assert Account.objects.get(pk=other.pk).status == "active"


def test_a_transfer_to_a_frozen_account_is_refused(in_tenant, account, other):
    services.freeze_account(account=other)
    with pytest.raises(RuleViolation, match="is frozen"):
        services.transfer(from_account=account, to_account=other, amount="1.00")
    services.unfreeze_account(account=other)
    services.transfer(from_account=account, to_account=other, amount="1.00")
    assert balance(other) == D("1.00")


def test_another_tenants_account_is_not_found(tenant, other_tenant):
    mine = funded_account(tenant, "10.00")
    theirs = AccountFactory(tenant=other_tenant)
    with tenant_context(tenant):
        with pytest.raises(NotFound):
            services.transfer(from_account=mine, to_account=theirs, amount="1.00")
        with pytest.raises(NotFound):
            services.deposit(account=theirs, amount="1.00")
        assert balance(mine) == D("10.00")
    with tenant_context(other_tenant):
        assert balance(theirs) == 0


def test_a_transfer_costs_a_fixed_number_of_queries(
    in_tenant, account, other, django_assert_max_num_queries
):
    services.transfer(from_account=account, to_account=other, amount="1.00")  # warm caches
    # The lock of both balance rows; the journal, postings and balances (one statement on
    # PostgreSQL, three elsewhere); the audit event and its links; and, as the test runs in a
    # transaction, a savepoint and its release (BEGIN and COMMIT when the service owns it).
    budget = 6 if connection.vendor == "postgresql" else 8
    with django_assert_max_num_queries(budget):
        services.transfer(from_account=account, to_account=other, amount="1.00")
    with django_assert_max_num_queries(budget):
        services.deposit(account=account, amount="1.00")


# --- journals: post_journal, balance, reversal ------------------------------------------------


def test_post_journal_writes_balanced_lines_and_internal_accounts_have_no_limit(in_tenant, other):
    from accounts.internal import internal_account

    portfolio = internal_account(code="loan_portfolio", currency="EUR")
    journal = services.post_journal(
        kind="loan_disbursement",
        lines=[Line(portfolio, D("-500.00")), Line(other, D("500.00"), "loan LN-1")],
        description="disbursement",
    )
    assert (balance(portfolio), balance(other)) == (D("-500.00"), D("500.00"))
    assert {p.description for p in journal.posting_list} == {"disbursement", "loan LN-1"}


@pytest.mark.parametrize(
    "amounts", [[D("-1"), D("2")], [D("1")], [], [D("0"), D("0")], [D("-1.001"), D("1.001")]]
)
def test_post_journal_refuses_unbalanced_or_malformed_lines(in_tenant, account, other, amounts):
    lines = [Line(a, amount) for a, amount in zip([account, other], amounts, strict=False)]
    with pytest.raises((ValueError, ValidationError)):
        services.post_journal(kind="fee", lines=lines)
    assert (balance(account), balance(other)) == (D("100.00"), 0)


def test_a_reversal_is_the_exact_opposite_and_happens_once(in_tenant, account, other):
    original = services.transfer(from_account=account, to_account=other, amount="30.00")
    reversal = services.reverse_journal(journal=original, description="sent in error")
    assert reversal.kind == "reversal" and reversal.reversal_of_id == original.pk
    assert sorted((p.account_id, p.amount) for p in reversal.posting_list) == sorted(
        (p.account_id, -p.amount) for p in original.posting_list
    )
    assert (balance(account), balance(other)) == (D("100.00"), 0)
    assert sorted(p.amount for p in Posting.objects.filter(journal=original)) == [D("-30"), D("30")]
    with pytest.raises(Conflict, match="already been reversed"):
        services.reverse_journal(journal=original)
    with pytest.raises(Conflict, match="not reversed"):
        services.reverse_journal(journal=reversal)
    assert Journal.objects.filter(kind="reversal").count() == 1


def test_a_reversal_that_would_overdraw_is_refused(in_tenant, account, other):
    original = services.transfer(from_account=account, to_account=other, amount="30.00")
    services.withdraw(account=other, amount="30.00")
    with pytest.raises(RuleViolation, match="Insufficient"):
        services.reverse_journal(journal=original)
    assert not Journal.objects.filter(reversal_of=original).exists()


# --- idempotency ------------------------------------------------------------------------------


def test_a_retried_deposit_with_the_same_key_posts_once(in_tenant, account):
    first = services.deposit(account=account, amount="10.00", idempotency_key="dep-1")
    again = services.deposit(account=account, amount="10.00", idempotency_key="dep-1")
    assert again.pk == first.pk and again.journal_id == first.journal_id
    assert balance(account) == D("110.00")
    assert Journal.objects.filter(idempotency_key="dep-1").count() == 1


def test_a_retried_withdrawal_of_everything_replays_rather_than_refuses(in_tenant, account):
    """The retry finds the account empty (the first attempt emptied it): it is answered with
    the first attempt's posting, not refused."""
    first = services.withdraw(account=account, amount="100.00", idempotency_key="w-1")
    again = services.withdraw(account=account, amount="100.00", idempotency_key="w-1")
    assert again.pk == first.pk and balance(account) == 0


def test_a_key_reused_for_another_movement_is_a_conflict(in_tenant, account, other):
    services.deposit(account=account, amount="10.00", idempotency_key="k")
    with pytest.raises(Conflict, match="already used"):
        services.deposit(account=account, amount="11.00", idempotency_key="k")
    with pytest.raises(Conflict, match="already used"):
        services.transfer(
            from_account=account, to_account=other, amount="10.00", idempotency_key="k"
        )
    assert balance(account) == D("110.00")


@pytest.mark.parametrize(
    "change",
    [{"description": "other"}, {"external_reference": "X-2"}, {"value_date": date(2026, 1, 2)}],
)
def test_a_key_reused_with_other_details_is_a_conflict(in_tenant, account, change):
    first = {"description": "rent", "external_reference": "X-1", "value_date": date(2026, 1, 1)}
    services.deposit(account=account, amount="10.00", idempotency_key="d", **first)
    with pytest.raises(Conflict, match="already used"):
        services.deposit(account=account, amount="10.00", idempotency_key="d", **first | change)
    retry = {name: value for name, value in first.items() if name != "value_date"}
    again = services.deposit(account=account, amount="10.00", idempotency_key="d", **retry)
    assert again.journal.replayed and again.value_date == date(2026, 1, 1)
    assert balance(account) == D("110.00")


def test_a_transfer_retried_with_its_key_returns_the_same_journal(in_tenant, account, other):
    first = services.transfer(
        from_account=account, to_account=other, amount="5", idempotency_key="t"
    )
    again = services.transfer(
        from_account=account, to_account=other, amount="5", idempotency_key="t"
    )
    assert again.pk == first.pk
    assert [p.pk for p in again.posting_list] == [p.pk for p in first.posting_list]
    assert balance(other) == D("5.00")


# --- holds ------------------------------------------------------------------------------------


def test_a_hold_lowers_the_available_balance_until_released(in_tenant, account, other):
    hold = services.place_hold(account=account, amount="60.00", reason="card authorisation")
    assert hold.status == "active" and available(account) == D("40.00")
    assert balance(account) == D("100.00")
    with pytest.raises(RuleViolation, match="Insufficient"):
        services.transfer(from_account=account, to_account=other, amount="40.01")
    with pytest.raises(RuleViolation, match="Insufficient"):
        services.place_hold(account=account, amount="40.01", reason="second card")
    released = services.release_hold(hold=hold)
    assert released.status == "released" and released.released_by == "system"
    assert available(account) == D("100.00")
    with pytest.raises(Conflict, match="released"):
        services.release_hold(hold=hold)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"reason": " "}, "reason"),
        ({"expires_at": "past"}, "expires_at"),
        ({"amount": "0"}, "amount"),
    ],
)
def test_a_hold_refuses_bad_input(in_tenant, account, fields, field):
    values = {"amount": "1.00", "reason": "card", **fields}
    if values.get("expires_at") == "past":
        values["expires_at"] = timezone.now() - timedelta(seconds=1)
    with pytest.raises(ValidationError) as error:
        services.place_hold(account=account, **values)
    assert field in error.value.message_dict


@pytest.fixture
def later(monkeypatch):
    """Move the clock forward (what expiry needs; no job runs meanwhile)."""

    def move(delta):
        moved = timezone.now() + delta
        monkeypatch.setattr(timezone, "now", lambda: moved)

    return move


def test_an_expired_hold_stops_counting_without_a_job(in_tenant, account, other, later):
    soon = timezone.now() + timedelta(hours=1)
    hold = services.place_hold(account=account, amount="70.00", reason="hotel", expires_at=soon)
    services.place_hold(account=account, amount="10.00", reason="fuel")
    assert available(account) == D("20.00")
    later(timedelta(hours=2))
    assert hold.status == "expired"
    assert available(account) == D("90.00")
    assert [h.pk for h in services_holds(account, "expired")] == [hold.pk]
    services.transfer(from_account=account, to_account=other, amount="90.00")
    stored = AccountBalance.objects.get(account=account)
    assert (stored.held, stored.next_hold_expiry) == (D("10.00"), None)  # summed again
    with pytest.raises(Conflict, match="expired"):
        services.release_hold(hold=hold)


def services_holds(account, status):
    from accounts.selectors import holds_of

    return list(holds_of(account, status))


def test_closing_needs_a_zero_balance_and_no_active_hold(in_tenant, account, other):
    with pytest.raises(RuleViolation, match=r"balance of 100\.00 EUR"):
        services.close_account(account=account)
    services.withdraw(account=account, amount="100.00")
    services.deposit(account=account, amount="1.00")
    hold = services.place_hold(account=account, amount="1.00", reason="card")
    services.release_hold(hold=hold)
    services.withdraw(account=account, amount="1.00")
    closed = services.close_account(account=account)
    assert closed.status == "closed" and closed.closed_on == timezone.localdate()
    with pytest.raises(Conflict, match="is closed"):
        services.close_account(account=account)


def test_an_active_hold_blocks_closing(in_tenant, other):
    services.update_account(account=other, changes={"overdraft_limit": "5"})
    hold = services.place_hold(account=other, amount="5.00", reason="card")
    with pytest.raises(RuleViolation, match="active holds"):
        services.close_account(account=other)
    services.release_hold(hold=hold)
    assert services.close_account(account=other).status == "closed"


# --- lifecycle --------------------------------------------------------------------------------


def test_freeze_and_unfreeze_follow_their_transitions(in_tenant, other):
    with pytest.raises(Conflict, match="cannot unfreeze"):
        services.unfreeze_account(account=other)
    frozen = services.freeze_account(account=other, by="ops:alice")
    assert frozen.status == "frozen"
    assert other.history.first().actor == "ops:alice"
    with pytest.raises(Conflict, match="cannot freeze"):
        services.freeze_account(account=other)
    assert services.unfreeze_account(account=other).status == "active"


def test_the_overdraft_limit_changes_but_not_below_what_is_drawn(in_tenant):
    account = funded_account(in_tenant, "0", overdraft_limit=D("100"))
    services.withdraw(account=account, amount="80.00")
    assert services.update_account(
        account=account, changes={"overdraft_limit": "90"}
    ).overdraft_limit == D("90.00")
    with pytest.raises(RuleViolation, match="overdrawn beyond"):
        services.update_account(account=account, changes={"overdraft_limit": "79.99"})
    with pytest.raises(TypeError):
        services.update_account(account=account, changes={"currency": "USD"})
    assert Account.objects.get(pk=account.pk).overdraft_limit == D("90.00")


def test_an_open_account_blocks_closing_or_deleting_its_customer(in_tenant, other):
    customer = other.customer
    with pytest.raises(Conflict, match=f"account {other.reference} is still open"):
        customer_services.change_status(customer=customer, status="closed")
    with pytest.raises(Conflict, match=f"account {other.reference} is still open"):
        customer_services.soft_delete_customer(customer=customer)
    services.close_account(account=other)
    customer_services.change_status(customer=customer, status="closed")
    assert Customer.objects.get(pk=customer.pk).status == "closed"


# --- audit ------------------------------------------------------------------------------------


def journal_events():
    return list(AuditEvent.objects.filter(resource_type="journal").order_by("id"))


def test_each_movement_writes_one_audit_event_naming_its_accounts(in_tenant, account, other):
    before = len(journal_events())
    journal = services.transfer(
        from_account=account, to_account=other, amount="12.00", by="partner_key:abcd1234"
    )
    (event,) = journal_events()[before:]
    assert (event.action, event.resource_id, event.actor) == (
        "transfer",
        str(journal.public_id),
        "partner_key:abcd1234",
    )
    assert event.related == sorted(f"accounts.account:{a.reference}" for a in (account, other))
    assert event.changes[f"balance:{account.reference}"] == ["100.00", "88.00"]
    assert journal.actor == "partner_key:abcd1234"


def test_a_rolled_back_movement_leaves_no_journal_posting_or_event(in_tenant, account, other):
    counts, events = ledger_counts(), len(journal_events())
    with pytest.raises(RuntimeError), transaction.atomic():
        services.transfer(from_account=account, to_account=other, amount="12.00")
        raise RuntimeError("the caller's unit of work fails after the service")
    with pytest.raises(RuleViolation):
        services.withdraw(account=account, amount="1000.00")
    assert ledger_counts() == counts and len(journal_events()) == events
    assert (balance(account), balance(other)) == (D("100.00"), 0)


def test_a_hold_leaves_history_in_its_accounts_trail(in_tenant, account):
    hold = services.place_hold(account=account, amount="1.00", reason="card", by="ops:bo")
    services.release_hold(hold=hold, by="ops:bo")
    events = AuditEvent.objects.filter(resource_type="accounts.hold").order_by("id")
    assert [(e.action, e.actor) for e in events] == [("create", "ops:bo"), ("update", "ops:bo")]
    assert {e.resource_id for e in events} == {str(hold.public_id)}  # the id the API shows
    assert all(f"accounts.account:{account.reference}" in e.related for e in events)
    assert Hold.objects.get(pk=hold.pk).released_by == "ops:bo"
