"""The demo banks' loan books (lending/fixtures/demo.json), written by `manage.py demo_ledger`.

Products, and loans in every status in both banks: pending approval, approved, rejected,
withdrawn, active and paid on time, active in arrears (penalties charged), closed, written off,
with collateral. Every money movement (disbursement, origination fee, repayment, write-off) is
posted to the demo ledger as it is built, day by day (`LedgerExtension.on_day`), so the ledger's
balances and running balances include them and `reconcile_ledger` passes on the whole demo.

Schedules come from `lending.schedule`, the module the services use; a repayment pays exactly
what its installment owes, so its allocation is that installment's parts. Figures are as of
the demo's last day (`END`): days past due, overdue installments and penalties are what close
of day (`lending.close_of_day`) leaves that evening, and END is recorded as each bank's last day
closed, so close of day run later carries on from the day after. Like the ledger, it is the same
on every run.
"""

import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from accounts.management.commands.demo_ledger import (
    DEMO_PK_START,
    END,
    STAFF,
    SYSTEM,
    _demo_uuid,
    _row,
    render,
)
from accounts.models import InternalCode
from lending.models import COMPONENTS
from lending.schedule import Terms, accrued_interest, build_schedule

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "demo.json"
# The second pair of eyes: the staff user who approves what the clerk submits.
APPROVER = {"harbour": "user:harbour.manager", "northwind": "user:northwind.manager"}
CENT = Decimal("0.01")

PRODUCTS = {
    "harbour": [
        {
            "reference": "LPR-000001",
            "name": "Personal loan",
            "min_principal": "1000",
            "max_principal": "25000",
            "min_interest_rate": "6",
            "max_interest_rate": "14",
            "min_installments": 3,
            "max_installments": 60,
            "repayment_frequencies": ["monthly"],
            "interest_method": "declining_balance",
            "amortization": "equal_installments",
            "day_count": "30/360",
            "origination_fee_type": "percent",
            "origination_fee": "1",
            "penalty_type": "flat",
            "penalty_amount": "25",
            "penalty_tolerance_days": 5,
        },
        {
            "reference": "LPR-000002",
            "name": "Business term loan",
            "min_principal": "5000",
            "max_principal": "250000",
            "min_interest_rate": "4",
            "max_interest_rate": "12",
            "min_installments": 3,
            "max_installments": 36,
            "repayment_frequencies": ["monthly", "biweekly"],
            "interest_method": "declining_balance",
            "amortization": "equal_principal",
            "day_count": "actual/365",
            "origination_fee_type": "flat",
            "origination_fee": "250",
            "penalty_type": "rate",
            "penalty_rate": "12",
            "penalty_tolerance_days": 3,
            "allocation_order": ["interest", "penalties", "fees", "principal"],
            "overpayment": "shorten_term",
        },
    ],
    "northwind": [
        {
            "reference": "LPR-000001",
            "name": "Personal loan",
            "min_principal": "500",
            "max_principal": "20000",
            "min_interest_rate": "5",
            "max_interest_rate": "16",
            "min_installments": 3,
            "max_installments": 48,
            "repayment_frequencies": ["monthly", "weekly"],
            "interest_method": "declining_balance",
            "amortization": "equal_installments",
            "day_count": "actual/365",
            "origination_fee_type": "flat",
            "origination_fee": "50",
            "penalty_type": "flat",
            "penalty_amount": "20",
            "penalty_tolerance_days": 5,
        },
        {
            "reference": "LPR-000002",
            "name": "Fleet finance",
            "min_principal": "10000",
            "max_principal": "150000",
            "min_interest_rate": "5",
            "max_interest_rate": "10",
            "min_installments": 12,
            "max_installments": 60,
            "repayment_frequencies": ["monthly"],
            "interest_method": "flat",
            "amortization": "equal_installments",
            "day_count": "30/360",
            "origination_fee_type": "percent",
            "origination_fee": "0.5",
            "penalty_type": "none",
        },
    ],
}


@dataclass(frozen=True)
class Plan:
    """One demo loan: its application and what became of it.

    `fate`: pending, approved, rejected, withdrawn (no money moves); active (every installment
    paid when due), arrears (only the first `paid` installments paid), closed (all paid, the
    last before END), written_off (the first `paid` paid, then written off on `ended`).
    """

    reference: str
    customer: str
    account: str
    product: str
    principal: str
    rate: str
    installments: int
    frequency: str
    submitted: datetime.date
    fate: str
    disbursed: datetime.date | None = None
    paid: int = 0
    ended: datetime.date | None = None
    reason: str = ""
    collateral: tuple = ()  # (type, description, value, guarantor reference)


def d(text):
    return datetime.date.fromisoformat(text)


# fmt: off
LOANS = {
    "harbour": [
        Plan("LN-000001", "CUS-000001", "ACC-000001", "LPR-000001", "6000", "9.5", 12,
             "monthly", d("2026-08-05"), "active", d("2026-08-10"),
             collateral=(("vehicle", "Volkswagen Golf, 2021, NL-42-XK", "9000", ""),)),
        Plan("LN-000002", "CUS-000003", "ACC-000004", "LPR-000001", "4000", "12", 12,
             "monthly", d("2026-08-03"), "arrears", d("2026-08-05"), paid=1,
             collateral=(("guarantee", "Guarantee by Bob Smith", "4000", "CUS-000002"),)),
        Plan("LN-000003", "CUS-000002", "ACC-000003", "LPR-000001", "1500", "7", 3,
             "monthly", d("2026-08-03"), "closed", d("2026-08-04")),
        Plan("LN-000004", "CUS-000007", "ACC-000006", "LPR-000002", "10000", "10", 6,
             "monthly", d("2026-08-03"), "written_off", d("2026-08-04"), paid=1,
             ended=d("2026-11-10")),
        Plan("LN-000005", "CUS-000005", "ACC-000005", "LPR-000002", "30000", "8", 12,
             "monthly", d("2026-11-12"), "pending"),
        Plan("LN-000006", "CUS-000007", "ACC-000006", "LPR-000002", "50000", "7.5", 24,
             "monthly", d("2026-11-09"), "approved", ended=d("2026-11-11"),
             collateral=(("real_estate", "Warehouse, Havenstraat 12, Rotterdam", "120000", ""),)),
        Plan("LN-000007", "CUS-000002", "ACC-000003", "LPR-000001", "20000", "11", 48,
             "monthly", d("2026-10-19"), "rejected", ended=d("2026-10-21"),
             reason="Repayments would exceed 40 % of the net monthly income."),
        Plan("LN-000008", "CUS-000001", "ACC-000001", "LPR-000001", "2500", "8", 6,
             "monthly", d("2026-09-14"), "withdrawn", ended=d("2026-09-16"),
             reason="The customer paid for the repair from savings."),
    ],
    "northwind": [
        Plan("LN-000001", "CUS-000001", "ACC-000001", "LPR-000001", "3000", "10", 12,
             "monthly", d("2026-08-06"), "active", d("2026-08-12")),
        Plan("LN-000002", "CUS-000002", "ACC-000002", "LPR-000001", "2400", "13", 24,
             "weekly", d("2026-08-17"), "arrears", d("2026-08-19"), paid=8),
        Plan("LN-000003", "CUS-000003", "ACC-000004", "LPR-000002", "24000", "6.5", 24,
             "monthly", d("2026-08-04"), "active", d("2026-08-07"),
             collateral=(("vehicle", "Two Ford Transit vans, 2024", "38000", ""),)),
        Plan("LN-000004", "CUS-000002", "ACC-000002", "LPR-000001", "900", "9", 3,
             "monthly", d("2026-08-03"), "closed", d("2026-08-05")),
        Plan("LN-000005", "CUS-000001", "ACC-000001", "LPR-000001", "1800", "15", 12,
             "monthly", d("2026-08-10"), "written_off", d("2026-08-11"), paid=0,
             ended=d("2026-11-12")),
        Plan("LN-000006", "CUS-000003", "ACC-000004", "LPR-000002", "60000", "7", 36,
             "monthly", d("2026-11-11"), "pending",
             collateral=(("securities", "Gilt portfolio held at Northwind", "40000", ""),)),
        Plan("LN-000007", "CUS-000001", "ACC-000001", "LPR-000001", "4000", "11", 18,
             "monthly", d("2026-11-02"), "approved", ended=d("2026-11-04")),
        Plan("LN-000008", "CUS-000002", "ACC-000002", "LPR-000001", "15000", "16", 48,
             "monthly", d("2026-09-21"), "rejected", ended=d("2026-09-22"),
             reason="Affordability check failed."),
        Plan("LN-000009", "CUS-000003", "ACC-000004", "LPR-000002", "20000", "6", 12,
             "monthly", d("2026-10-05"), "withdrawn", ended=d("2026-10-08"),
             reason="Financed by the manufacturer instead."),
    ],
}
# fmt: on


def _moment(day, hour=9):
    return datetime.datetime.combine(day, datetime.time(hour), tzinfo=datetime.UTC)


@dataclass
class DemoLoan:
    tenant: str
    plan: Plan
    product: dict
    currency: str
    installments: list = field(default_factory=list)  # dicts, as the fixture writes them
    repayments: list = field(default_factory=list)
    penalties: list = field(default_factory=list)  # (installment number, charged_on, amount)
    journals: dict = field(default_factory=dict)  # "disbursement"/"fee"/"write_off" -> number
    closed_on: datetime.date | None = None

    @property
    def fee(self):
        product, principal = self.product, Decimal(self.plan.principal)
        if product.get("origination_fee_type") == "percent":
            return (principal * Decimal(product["origination_fee"]) / 100).quantize(CENT)
        if product.get("origination_fee_type") == "flat":
            return Decimal(product["origination_fee"])
        return Decimal(0)

    def to_pay(self, day):
        """The installments this loan pays by `day` (due, unpaid, and within its plan)."""
        plan = self.plan
        paying = len(self.installments) if plan.fate in {"active", "closed"} else plan.paid
        return [
            row
            for row in self.installments[:paying]
            if row["due_date"] <= day and row["status"] != "paid"
        ]


class LedgerExtension:
    """Posts the demo loans' money to the demo ledger as it is built, then writes the loans."""

    fixture = FIXTURE

    def __init__(self):
        self.loans = {
            tenant: [DemoLoan(tenant, plan, _product(tenant, plan.product), "") for plan in plans]
            for tenant, plans in LOANS.items()
        }
        self.journal_pks = {}

    def on_day(self, ledger, day):
        for loan in self.loans[ledger.tenant]:
            loan.currency = ledger.currency
            plan = loan.plan
            if plan.disbursed == day:
                self._disburse(ledger, loan, day)
            for installment in loan.to_pay(day):
                self._repay(ledger, loan, installment, day)
            if plan.fate == "written_off" and plan.ended == day:
                self._write_off(ledger, loan, day)
            if day == END and plan.fate in {"active", "arrears"}:
                self._close_of_day(loan, day)

    def _disburse(self, ledger, loan, day):
        plan, staff = loan.plan, STAFF[ledger.tenant]
        account = ledger.accounts[plan.account]
        principal = Decimal(plan.principal)
        schedule = build_schedule(
            Terms(
                principal=principal,
                annual_interest_rate=Decimal(plan.rate),
                number_of_installments=plan.installments,
                repayment_frequency=plan.frequency,
                interest_method=loan.product["interest_method"],
                amortization=loan.product["amortization"],
                day_count=loan.product["day_count"],
                start_date=day,
            )
        )
        loan.installments = [
            {
                "number": row.number,
                "due_date": row.due_date,
                "principal": row.principal,
                "interest": row.interest,
                "fees": row.fees,
                "penalties": Decimal(0),
                "principal_paid": Decimal(0),
                "interest_paid": Decimal(0),
                "fees_paid": Decimal(0),
                "penalties_paid": Decimal(0),
                "status": "pending",
                "paid_on": None,
            }
            for row in schedule.installments
        ]
        portfolio = ledger.internal(InternalCode.LOAN_PORTFOLIO)
        journal = ledger.post(
            "loan_disbursement",
            day,
            [(portfolio, -principal), (account, principal)],
            f"Disbursement of loan {plan.reference}",
            actor=staff,
        )
        loan.journals["disbursement"] = journal["number"]
        if loan.fee:
            fee = ledger.post(
                "fee",
                day,
                [(account, -loan.fee), (ledger.internal(InternalCode.FEE_INCOME), loan.fee)],
                f"Origination fee of loan {plan.reference}",
                actor=staff,
            )
            loan.journals["fee"] = fee["number"]

    def _repay(self, ledger, loan, installment, day):
        account = ledger.accounts[loan.plan.account]
        parts = {name: installment[name] - installment[f"{name}_paid"] for name in COMPONENTS}
        amount = sum(parts.values())
        assert amount <= ledger.available(account), (loan.plan.reference, day, amount)
        income = {
            "principal": InternalCode.LOAN_PORTFOLIO,
            "interest": InternalCode.INTEREST_INCOME,
            "fees": InternalCode.FEE_INCOME,
            "penalties": InternalCode.PENALTY_INCOME,
        }
        lines = [(account, -amount)] + [
            (ledger.internal(income[name]), parts[name]) for name in COMPONENTS if parts[name]
        ]
        journal = ledger.post(
            "loan_repayment",
            day,
            lines,
            f"Repayment of loan {loan.plan.reference}, installment {installment['number']}",
            actor=SYSTEM,
        )
        for name in COMPONENTS:
            installment[f"{name}_paid"] = installment[name]
        status_before, installment["status"], installment["paid_on"] = (
            installment["status"],
            "paid",
            day,
        )
        loan.repayments.append(
            {
                "number": len(loan.repayments) + 1,
                "journal": journal["number"],
                "amount": amount,
                "received_on": day,
                "parts": parts,
                "installment": installment["number"],
                "status_before": status_before,
            }
        )
        if all(row["status"] == "paid" for row in loan.installments):
            loan.closed_on = day

    def _write_off(self, ledger, loan, day):
        outstanding = sum(row["principal"] - row["principal_paid"] for row in loan.installments)
        self._close_of_day(loan, day)  # the arrears as they stood when it was written off
        journal = ledger.post(
            "write_off",
            day,
            [
                (ledger.internal(InternalCode.WRITE_OFF_EXPENSE), -outstanding),
                (ledger.internal(InternalCode.LOAN_PORTFOLIO), outstanding),
            ],
            f"Write-off of loan {loan.plan.reference}",
            actor=APPROVER[ledger.tenant],
        )
        loan.journals["write_off"] = journal["number"]

    def _close_of_day(self, loan, day):
        """What close of day leaves on `day`: overdue installments, penalties charged once the
        tolerance has passed (flat per installment, or the rate per day late), days past due."""
        product = loan.product
        tolerance = product.get("penalty_tolerance_days", 0)
        for row in loan.installments:
            if row["status"] == "paid" or row["due_date"] >= day:
                continue
            row["status"] = "overdue"
            first_charge = row["due_date"] + datetime.timedelta(days=tolerance + 1)
            if product.get("penalty_type") == "flat" and first_charge <= day:
                amount = Decimal(product["penalty_amount"])
                row["penalties"] = amount
                loan.penalties.append((row["number"], first_charge, amount))
            elif product.get("penalty_type") == "rate" and first_charge <= day:
                charge = first_charge
                while charge <= day:  # a day's interest at the penalty rate, as close of day
                    daily = accrued_interest(
                        principal=row["principal"] + row["interest"] + row["fees"],
                        annual_interest_rate=Decimal(product["penalty_rate"]),
                        start=charge - datetime.timedelta(days=1),
                        end=charge,
                        day_count=product["day_count"],
                    )
                    loan.penalties.append((row["number"], charge, daily))
                    row["penalties"] += daily
                    charge += datetime.timedelta(days=1)

    def days_past_due(self, loan):
        """As of END, or of the write-off for a loan written off."""
        unpaid = [row["due_date"] for row in loan.installments if row["status"] == "overdue"]
        as_of = loan.plan.ended if loan.plan.fate == "written_off" else END
        return (as_of - min(unpaid)).days if unpaid else 0

    def numbered(self, tenant, journal_pks):
        self.journal_pks[tenant] = journal_pks

    def render(self):
        return render(self.rows())

    def rows(self):
        products, loans, installments, repayments, allocations = [], [], [], [], []
        penalties, collateral = [], []
        pk = dict.fromkeys(
            ["installment", "repayment", "allocation", "penalty", "collateral"], DEMO_PK_START
        )
        for tenant, plans in PRODUCTS.items():
            currency = next(iter(self.loans[tenant])).currency
            for product in plans:
                products.append(_product_row(tenant, product, currency))
        for tenant, demo_loans in self.loans.items():
            numbers = self.journal_pks[tenant]
            for loan in demo_loans:
                loans.append(self._loan_row(loan, numbers))
                installment_pks = {}
                for row in loan.installments:
                    installment_pks[row["number"]] = pk["installment"]
                    installments.append(
                        _row(
                            "lending.installment",
                            pk["installment"],
                            tenant=[tenant],
                            loan=[tenant, loan.plan.reference],
                            **{name: _amount(value) for name, value in row.items()},
                            created_at=_moment(loan.plan.disbursed),
                            updated_at=_moment(row["paid_on"] or loan.plan.disbursed),
                        )
                    )
                    pk["installment"] += 1
                for repayment in loan.repayments:
                    repayments.append(
                        _row(
                            "lending.repayment",
                            pk["repayment"],
                            tenant=[tenant],
                            public_id=_demo_uuid(
                                tenant, loan.plan.reference, "repayment", repayment["number"]
                            ),
                            loan=[tenant, loan.plan.reference],
                            amount=repayment["amount"],
                            received_on=repayment["received_on"],
                            journal=numbers[repayment["journal"]],
                            **repayment["parts"],
                            created_at=_moment(repayment["received_on"], 18),
                            updated_at=_moment(repayment["received_on"], 18),
                        )
                    )
                    allocations.append(
                        _row(
                            "lending.repaymentallocation",
                            pk["allocation"],
                            tenant=[tenant],
                            repayment=pk["repayment"],
                            installment=installment_pks[repayment["installment"]],
                            **repayment["parts"],
                            status_before=repayment["status_before"],
                            created_at=_moment(repayment["received_on"], 18),
                        )
                    )
                    pk["repayment"] += 1
                    pk["allocation"] += 1
                for number, charged_on, amount in loan.penalties:
                    penalties.append(
                        _row(
                            "lending.penaltycharge",
                            pk["penalty"],
                            tenant=[tenant],
                            installment=installment_pks[number],
                            charged_on=charged_on,
                            amount=amount,
                            created_at=_moment(charged_on, 22),
                        )
                    )
                    pk["penalty"] += 1
                for number, (kind, description, value, guarantor) in enumerate(
                    loan.plan.collateral, start=1
                ):
                    collateral.append(
                        _row(
                            "lending.collateral",
                            pk["collateral"],
                            tenant=[tenant],
                            public_id=_demo_uuid(tenant, loan.plan.reference, "collateral", number),
                            loan=[tenant, loan.plan.reference],
                            type=kind,
                            description=description,
                            value=Decimal(value),
                            currency=loan.currency,
                            valuation_date=loan.plan.submitted,
                            guarantor=[tenant, guarantor] if guarantor else None,
                            created_at=_moment(loan.plan.submitted, 11),
                            updated_at=_moment(loan.plan.submitted, 11),
                        )
                    )
                    pk["collateral"] += 1
        # Close of day has closed END: run after loading, it carries on from the next day.
        closed = [
            _row(
                "lending.closedday",
                DEMO_PK_START + number,
                tenant=[tenant],
                last_closed_on=END,
                created_at=_moment(END, 22),
                updated_at=_moment(END, 22),
            )
            for number, tenant in enumerate(self.loans)
        ]
        rows = products + loans + installments + repayments + allocations + penalties
        return rows + collateral + closed

    def _loan_row(self, loan, numbers):
        plan, tenant = loan.plan, loan.tenant
        product = loan.product
        decided = plan.fate in {"rejected", "withdrawn"}
        approved = plan.fate not in {"pending", "rejected", "withdrawn"}
        status = {"pending": "pending_approval", "arrears": "active"}.get(plan.fate, plan.fate)
        if plan.fate == "closed" and loan.closed_on is None:
            raise AssertionError(f"{plan.reference} should be repaid by {END}")
        last_change = loan.closed_on or plan.ended or plan.disbursed or plan.submitted
        return _row(
            "lending.loan",
            tenant=[tenant],
            reference=plan.reference,
            customer=[tenant, plan.customer],
            product=[tenant, plan.product],
            account=[tenant, plan.account],
            currency=loan.currency,
            principal=Decimal(plan.principal),
            annual_interest_rate=Decimal(plan.rate),
            number_of_installments=plan.installments,
            repayment_frequency=plan.frequency,
            interest_method=product["interest_method"],
            amortization=product["amortization"],
            day_count=product["day_count"],
            grace_installments=0,
            start_date=plan.disbursed,
            first_repayment_date=None,
            status=status,
            submitted_on=plan.submitted,
            submitted_by=STAFF[tenant],
            approved_on=(plan.disbursed if plan.fate != "approved" else plan.ended)
            if approved
            else None,
            approved_by=APPROVER[tenant] if approved else "",
            decided_on=plan.ended if decided else None,
            decided_by=(APPROVER[tenant] if plan.fate == "rejected" else STAFF[tenant])
            if decided
            else "",
            decision_reason=plan.reason,
            disbursed_on=plan.disbursed,
            maturity_date=loan.installments[-1]["due_date"] if loan.installments else None,
            closed_on=loan.closed_on if plan.fate == "closed" else None,
            written_off_on=plan.ended if plan.fate == "written_off" else None,
            days_past_due=self.days_past_due(loan),
            disbursement_journal=_journal(numbers, loan, "disbursement"),
            fee_journal=_journal(numbers, loan, "fee"),
            write_off_journal=_journal(numbers, loan, "write_off"),
            created_at=_moment(plan.submitted),
            updated_at=_moment(last_change, 17),
            deleted_at=None,
            deleted_by="",
        )


def _journal(numbers, loan, kind):
    number = loan.journals.get(kind)
    return None if number is None else numbers[number]


def _amount(value):
    return value if not isinstance(value, Decimal) else value.quantize(CENT)


def _product(tenant, reference):
    return next(p for p in PRODUCTS[tenant] if p["reference"] == reference)


def _product_row(tenant, product, currency):
    created = datetime.datetime(2026, 8, 1, 9, 0, tzinfo=datetime.UTC)
    fields = {
        "penalty_type": "none",
        "origination_fee_type": "none",
        "allocation_order": list(COMPONENTS),
        "overpayment": "reduce_installments",
        "grace_installments": 0,
        "is_active": True,
        **product,
    }
    for name in ("min_principal", "max_principal", "min_interest_rate", "max_interest_rate"):
        fields[name] = Decimal(fields[name])
    return _row(
        "lending.loanproduct",
        tenant=[tenant],
        currency=currency,
        **fields,
        created_at=created,
        updated_at=created,
        deleted_at=None,
        deleted_by="",
    )
