"""Write accounts/fixtures/demo.json: the demo banks' accounts with three and a half months of
postings, loaded by `manage.py loaddata demo` with the rest of the demo.

Other apps whose demo data moves money (lending's loans: disbursements, repayments, write-offs)
post it to this same ledger, day by day, through their `demo.LedgerExtension` (found in each
installed app), and write their own fixture from it: a journal posted apart from this one
would break the running `balance_after` of every later posting of its accounts.

The ledger is computed here, not recorded from a database, and the same every time (a seeded
random generator, UUIDs derived from names), so the fixture is regenerated rather than edited:
`manage.py demo_ledger`, then commit the file; `--check` fails when the file is out of date
(a test runs it). It is consistent by construction: every journal sums to zero, each posting's
`balance_after` runs on from the one before, and each balance row is the sum of its account's
postings (`manage.py reconcile_ledger` proves it after loading).

Accounts, balance rows and customers are addressed by natural key. Journals, postings and holds
have none, so they carry primary keys from DEMO_PK_START on, clear of the ids a database gives
its own rows (the loader resets the sequences past them); reloading leaves rows stored as the
fixture has them untouched, which the ledger's immutable rows need.
"""

import datetime
import json
import random
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import import_module
from pathlib import Path

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.utils.module_loading import module_has_submodule

from accounts.internal import NAMES, internal_reference
from accounts.models import InternalCode
from accounts.numbers import internal_account_number, with_check_digits

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "demo.json"
DEMO_PK_START = 1_000_001
NAMESPACE = uuid.UUID("6f1c1b0e-4d8a-4c55-9a55-1e6a2b7d0c01")
START = datetime.date(2026, 8, 3)
END = datetime.date(2026, 11, 13)
OPENED = datetime.datetime(2026, 8, 1, 9, 0, tzinfo=datetime.UTC)
STAFF = {"harbour": "user:harbour.clerk", "northwind": "user:northwind.clerk"}
SYSTEM = "system:demo"
CENT = Decimal("0.01")


@dataclass
class DemoAccount:
    """One demo account; `balance` runs on as postings are made."""

    tenant: str
    reference: str
    number: str
    currency: str
    customer: str = ""  # the customer's reference; blank for internal accounts
    product: str = ""
    internal_code: str = ""
    status: str = "active"
    overdraft_limit: Decimal = Decimal(0)
    balance: Decimal = Decimal(0)
    held: Decimal = Decimal(0)
    closed_until: datetime.date | None = None  # postings stop after this day (frozen/dormant)

    @property
    def key(self):
        return [self.tenant, self.reference]


@dataclass
class Ledger:
    """One tenant's demo ledger, built journal by journal."""

    tenant: str
    currency: str
    rng: random.Random
    accounts: dict = field(default_factory=dict)
    journals: list = field(default_factory=list)
    postings: list = field(default_factory=list)
    next_number: int = 1

    def open(self, reference, **fields):
        """An account numbered as the app numbers it: internal ones by what they are,
        customers' counting up from 1."""
        code = fields.get("internal_code")
        if code:
            number = internal_account_number(InternalCode.values.index(code) + 1, self.currency)
        else:
            number = with_check_digits(f"{self.next_number:010d}")
            self.next_number += 1
        account = DemoAccount(self.tenant, reference, number, self.currency, **fields)
        self.accounts[reference] = account
        return account

    def internal(self, code):
        return self.accounts[internal_reference(code, self.currency)]

    def at(self, day):
        """The next moment of `day` from 08:00 on: postings are made in time order."""
        earlier = sum(1 for journal in self.journals[-40:] if journal["value_date"] == day)
        moment = datetime.datetime.combine(day, datetime.time(8), tzinfo=datetime.UTC)
        return moment + datetime.timedelta(minutes=9 * earlier + self.rng.randrange(8))

    def post(self, kind, day, lines, description, *, actor=SYSTEM, reference="", reversal_of=None):
        """A journal of `lines` [(account, signed amount)], which must sum to zero."""
        assert sum(amount for _account, amount in lines) == 0, lines
        journal = {
            "number": len(self.journals),
            "kind": kind,
            "description": description,
            "actor": actor,
            "channel": "admin" if actor.startswith("user:") else "command",
            "value_date": day,
            "created_at": self.at(day),
            "reversal_of": reversal_of,
            "lines": [],
        }
        for account, amount in lines:
            account.balance += amount
            journal["lines"].append((account, amount, account.balance, reference))
        self.journals.append(journal)
        return journal

    def available(self, account):
        return account.balance - account.held + account.overdraft_limit

    def can_post(self, account, day):
        return account.closed_until is None or day <= account.closed_until


def _demo_uuid(*parts):
    return str(uuid.uuid5(NAMESPACE, "/".join(str(part) for part in parts)))


def _days():
    day = START
    while day <= END:
        if day.weekday() < 5:
            yield day
        day += datetime.timedelta(days=1)


def _money(rng, low, high):
    return Decimal(rng.randrange(low * 100, high * 100)) * CENT


# Customer accounts: (reference, customer, product, overdraft, status, monthly salary or
# business turnover per week, what withdrawals are for)
HARBOUR = [
    ("ACC-000001", "CUS-000001", "current", "500", "active", "salary", 3200),
    ("ACC-000002", "CUS-000001", "savings", "0", "active", "savings", 0),
    ("ACC-000003", "CUS-000002", "current", "0", "active", "salary", 2800),
    ("ACC-000004", "CUS-000003", "current", "250", "active", "salary", 4100),
    ("ACC-000005", "CUS-000005", "current", "0", "active", "business", 6000),
    ("ACC-000006", "CUS-000007", "current", "5000", "active", "business", 9000),
    ("ACC-000007", "CUS-000006", "current", "0", "frozen", "business", 3000),
    ("ACC-000008", "CUS-000008", "savings", "0", "dormant", "savings", 0),
]
NORTHWIND = [
    ("ACC-000001", "CUS-000001", "current", "300", "active", "salary", 2600),
    ("ACC-000002", "CUS-000002", "current", "0", "active", "salary", 3900),
    ("ACC-000003", "CUS-000002", "savings", "0", "active", "savings", 0),
    ("ACC-000004", "CUS-000003", "current", "2000", "active", "business", 7000),
]
SPENDING = [
    "ATM withdrawal",
    "Card payment: groceries",
    "Card payment: fuel",
    "Direct debit: energy",
    "Direct debit: phone",
    "Card payment: restaurant",
]
SUPPLIERS = ["Supplier invoice", "Payroll run", "Rent", "Tax payment", "Freight forwarding"]
MONTHLY_FEE = Decimal("4.50")
SAVINGS_RATE = Decimal("0.0025")  # per month, paid on the month's last working day


def build_ledger(tenant, currency, plan, seed, on_day=()):
    """One tenant's ledger; each of `on_day` is called after each day's postings, to post its
    own (an extension's) in time order."""
    ledger = Ledger(tenant, currency, random.Random(seed))  # noqa: S311 (demo data)
    for code in InternalCode.values:
        ledger.open(internal_reference(code, currency), internal_code=code)
    frozen_on = datetime.date(2026, 10, 15)
    dormant_after = datetime.date(2026, 8, 31)
    for reference, customer, product, overdraft, status, _role, _size in plan:
        ledger.open(
            reference,
            customer=customer,
            product=product,
            status=status,
            overdraft_limit=Decimal(overdraft),
            closed_until={"frozen": frozen_on, "dormant": dormant_after}.get(status),
        )
    settlement = ledger.internal(InternalCode.SETTLEMENT)
    fees = ledger.internal(InternalCode.FEE_INCOME)
    interest = ledger.internal(InternalCode.INTEREST_INCOME)
    rng = ledger.rng
    staff = STAFF[tenant]
    savings_of, salaries_paid = {}, set()
    for reference, customer, product, *_rest in plan:
        if product == "savings":
            savings_of.setdefault(customer, ledger.accounts[reference])

    def deposit(account, day, amount, description, reference=""):
        return ledger.post(
            "deposit",
            day,
            [(settlement, -amount), (account, amount)],
            description,
            actor=staff,
            reference=reference,
        )

    def withdraw(account, day, amount, description):
        if amount <= ledger.available(account):
            ledger.post(
                "withdrawal",
                day,
                [(account, -amount), (settlement, amount)],
                description,
                actor=staff,
            )

    for reference, *_rest in plan:  # opening deposits
        account = ledger.accounts[reference]
        deposit(account, START, _money(rng, 300, 2500), "Opening deposit")

    days = list(_days())
    for index, day in enumerate(days):
        month_end = index + 1 == len(days) or days[index + 1].month != day.month
        for reference, customer, product, _overdraft, _status, role, size in plan:
            account = ledger.accounts[reference]
            if not ledger.can_post(account, day):
                continue
            if role == "salary":
                if day.day >= 25 and (reference, day.month) not in salaries_paid:
                    salaries_paid.add((reference, day.month))
                    deposit(account, day, Decimal(size), "Salary", f"SAL-{day:%Y%m}-{reference}")
                    savings = savings_of.get(customer)
                    if savings is not None:
                        ledger.post(
                            "transfer",
                            day,
                            [(account, -Decimal(400)), (savings, Decimal(400))],
                            "Monthly saving",
                            actor=staff,
                        )
                if rng.random() < 0.15:
                    withdraw(account, day, _money(rng, 15, 180), rng.choice(SPENDING))
            elif role == "business":
                if rng.random() < 0.2:
                    amount = _money(rng, size // 4, size)
                    invoice = f"INV-{rng.randrange(10000, 99999)}"
                    deposit(account, day, amount, f"Customer payment {invoice}", invoice)
                if rng.random() < 0.15:
                    withdraw(account, day, _money(rng, size // 8, size // 2), rng.choice(SUPPLIERS))
            if month_end and product == "current" and ledger.available(account) >= MONTHLY_FEE:
                ledger.post(
                    "fee",
                    day,
                    [(account, -MONTHLY_FEE), (fees, MONTHLY_FEE)],
                    f"Account fee {day:%B %Y}",
                )
            if month_end and product == "savings" and account.balance > 0:
                paid = (account.balance * SAVINGS_RATE).quantize(CENT)
                if paid:
                    ledger.post(
                        "interest",
                        day,
                        [(interest, -paid), (account, paid)],
                        f"Interest {day:%B %Y}",
                    )
        if index == 20:  # a deposit keyed twice, reversed the next working day
            account = ledger.accounts[plan[2][0]]
            mistake = deposit(account, day, Decimal("150.00"), "Cash deposit (keyed twice)")
            ledger.post(
                "reversal",
                days[index + 1],
                [(line[0], -line[1]) for line in mistake["lines"]],
                "Reversal: deposit keyed twice",
                actor=staff,
                reversal_of=mistake["number"],
            )
        for extension in on_day:
            extension(ledger, day)
    return ledger


def _holds(ledger, plan, pk):
    """An active hold on the first account, a released one on the third."""
    first, third = ledger.accounts[plan[0][0]], ledger.accounts[plan[2][0]]
    first.held = Decimal("120.00")
    created = datetime.datetime(2026, 11, 12, 19, 42, tzinfo=datetime.UTC)
    return [
        _row(
            "accounts.hold",
            pk,
            tenant=[ledger.tenant],
            public_id=_demo_uuid(ledger.tenant, "hold", 1),
            account=first.key,
            amount="120.00",
            reason="Card authorisation: hotel",
            expires_at=None,
            released_at=None,
            released_by="",
            created_at=created,
            updated_at=created,
        ),
        _row(
            "accounts.hold",
            pk + 1,
            tenant=[ledger.tenant],
            public_id=_demo_uuid(ledger.tenant, "hold", 2),
            account=third.key,
            amount="60.00",
            reason="Card authorisation: car rental deposit",
            expires_at=None,
            released_at=created - datetime.timedelta(days=2),
            released_by=STAFF[ledger.tenant],
            created_at=created - datetime.timedelta(days=9),
            updated_at=created - datetime.timedelta(days=2),
        ),
    ]


def _row(model, pk=None, **fields):
    """A fixture row; blank text and nulls are left out (the model's defaults)."""
    row = {"model": model}
    if pk is not None:
        row["pk"] = pk
    row["fields"] = {
        name: _plain(value) for name, value in fields.items() if value not in ("", None)
    }
    return row


def _plain(value):
    if isinstance(value, datetime.datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:f}"
    return value


def extensions():
    """Each installed app's `demo.LedgerExtension()`: its `on_day(ledger, day)` posts to the
    ledger being built, `numbered(tenant, journal_pks)` learns the primary keys its journals
    got (by journal number), `fixture` is the path it writes and `render()` its text."""
    return [
        import_module(f"{config.name}.demo").LedgerExtension()
        for config in apps.get_app_configs()
        if config.name != "accounts" and module_has_submodule(config.module, "demo")
    ]


def build(extensions=()):
    """Every row of the demo ledger, in loading order."""
    accounts, balances, holds, journals, postings = [], [], [], [], []
    pk = {"journal": DEMO_PK_START, "posting": DEMO_PK_START, "hold": DEMO_PK_START}
    for seed, (tenant, currency, plan) in enumerate(
        [("harbour", "EUR", HARBOUR), ("northwind", "GBP", NORTHWIND)]
    ):
        on_day = [extension.on_day for extension in extensions]
        ledger = build_ledger(tenant, currency, plan, seed, on_day)
        holds += _holds(ledger, plan, pk["hold"])
        pk["hold"] += 2
        journal_pks = {}
        for journal in sorted(ledger.journals, key=lambda j: (j["created_at"], j["number"])):
            journal_pks[journal["number"]] = pk["journal"]
            journals.append(
                _row(
                    "accounts.journal",
                    pk["journal"],
                    tenant=[tenant],
                    public_id=_demo_uuid(tenant, "journal", journal["number"]),
                    kind=journal["kind"],
                    description=journal["description"],
                    actor=journal["actor"],
                    channel=journal["channel"],
                    request_id="",
                    idempotency_key="",
                    value_date=journal["value_date"],
                    reversal_of=journal_pks.get(journal["reversal_of"]),
                    created_at=journal["created_at"],
                )
            )
            for line, (account, amount, balance_after, reference) in enumerate(journal["lines"]):
                postings.append(
                    _row(
                        "accounts.posting",
                        pk["posting"],
                        tenant=[tenant],
                        public_id=_demo_uuid(tenant, "posting", journal["number"], line),
                        journal=pk["journal"],
                        account=account.key,
                        amount=amount,
                        balance_after=balance_after,
                        kind=journal["kind"],
                        description=journal["description"],
                        value_date=journal["value_date"],
                        posted_at=journal["created_at"],
                        external_reference=reference,
                    )
                )
                pk["posting"] += 1
            pk["journal"] += 1
        for extension in extensions:
            extension.numbered(tenant, journal_pks)
        for account in ledger.accounts.values():
            internal = bool(account.internal_code)
            accounts.append(
                _row(
                    "accounts.account",
                    tenant=[tenant],
                    reference=account.reference,
                    account_number=account.number,
                    customer=None if internal else [tenant, account.customer],
                    internal_code=account.internal_code,
                    name=f"{NAMES[account.internal_code]} {currency}" if internal else "",
                    product=account.product,
                    currency=currency,
                    status=account.status,
                    overdraft_limit=account.overdraft_limit,
                    opened_on=OPENED.date(),
                    closed_on=None,
                    created_at=OPENED,
                    updated_at=OPENED,
                    deleted_at=None,
                    deleted_by="",
                )
            )
            balances.append(
                _row(
                    "accounts.accountbalance",
                    tenant=[tenant],
                    account=account.key,
                    balance=account.balance,
                    held=account.held,
                    next_hold_expiry=None,
                    updated_at=datetime.datetime(2026, 11, 13, 18, 0, tzinfo=datetime.UTC),
                )
            )
    return accounts + balances + holds + journals + postings


def render(rows):
    """A fixture's text: one row a line, so that a regenerated file diffs readably."""
    lines = ",\n".join(f"  {json.dumps(row, ensure_ascii=False)}" for row in rows)
    return f"[\n{lines}\n]\n"


class Command(BaseCommand):
    help = (
        "Write accounts/fixtures/demo.json, the demo banks' ledger (deterministic), and the "
        "fixtures of other apps' demo data that posts to it (lending's loans)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--check", action="store_true", help="Fail if the committed fixture is out of date."
        )

    def handle(self, *args, check=False, **options):
        found = extensions()
        files = [(FIXTURE, render(build(found)))]
        files += [(extension.fixture, extension.render()) for extension in found]
        for path, text in files:
            if check:
                if not path.exists() or path.read_text() != text:
                    raise CommandError(f"{path} is out of date: run manage.py demo_ledger.")
                self.stdout.write(f"{path} is up to date.")
                continue
            path.parent.mkdir(exist_ok=True)
            path.write_text(text)
            self.stdout.write(f"Wrote {path} ({text.count(chr(10)) - 1} rows).")
