"""Repayment schedules: pure maths, no database (docs/lending.md explains every rule here).

`build_schedule(Terms)` gives a loan's installments; `accrued_interest` the interest on an
outstanding principal between two dates (payoff); `reschedule` the installments still to come
after an overpayment, either reducing them or shortening the term.

Conventions, each chosen once and used everywhere:

* An installment's interest is the interest accrued on the principal it bears (the opening
  balance, or the original principal for `flat`) from the previous due date (the first: from the
  interest start) to its own due date, by the day count. So a payoff on a due date and the
  schedule always agree.
* Amounts round half-even to the currency's minor unit (`minor_unit` decimal places); the last
  installment absorbs what rounding leaves, so the principals sum to the principal exactly.
* Due dates are counted from one anchor (never from the previous due date), keeping the anchor's
  day of month and falling back to the month's last day when the month is shorter.
"""

import calendar
import datetime
import functools
from dataclasses import dataclass, replace
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Context, Decimal, localcontext
from enum import StrEnum

# Enough digits for a 360-installment product of period factors on a principal of 10^15.
_CONTEXT = Context(prec=50, rounding=ROUND_HALF_EVEN)


def _exact(function):
    """Runs `function` in the module's decimal context, whatever context the caller has set (a
    caller's 6-digit context would otherwise round 250,000.00 - 788.49 to 249,212)."""

    @functools.wraps(function)
    def in_context(*args, **kwargs):
        with localcontext(_CONTEXT):
            return function(*args, **kwargs)

    return in_context


class Amortization(StrEnum):
    EQUAL_INSTALLMENTS = "equal_installments"  # annuity: the same total every period
    EQUAL_PRINCIPAL = "equal_principal"  # the same principal every period; totals fall


class InterestMethod(StrEnum):
    DECLINING_BALANCE = "declining_balance"  # interest on the principal still outstanding
    FLAT = "flat"  # interest on the original principal for the whole term


class Frequency(StrEnum):
    MONTHLY = "monthly"
    BIWEEKLY = "biweekly"
    WEEKLY = "weekly"


class DayCount(StrEnum):
    ACTUAL_365 = "actual/365"  # Actual/365 Fixed: actual days over 365, leap years included
    ACTUAL_360 = "actual/360"
    THIRTY_360 = "30/360"  # 30E/360 (ISDA): every whole month counts 30 days


class Overpayment(StrEnum):
    REDUCE_INSTALLMENTS = "reduce_installments"
    SHORTEN_TERM = "shorten_term"


_WEEKS = {Frequency.WEEKLY: 1, Frequency.BIWEEKLY: 2}
_DAYS_IN_YEAR = {DayCount.ACTUAL_365: 365, DayCount.ACTUAL_360: 360, DayCount.THIRTY_360: 360}


# --- terms ------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Terms:
    """What a schedule is computed from. Enum fields also take their string values ("monthly").

    `annual_interest_rate` is a nominal percentage (12 means 12 % a year). Interest runs from
    `start_date` (the disbursement); the first installment falls due on `first_repayment_date`, or
    one period after `start_date` when it is not given. Given only `first_repayment_date`, the
    first period is a regular one ending on it.
    """

    principal: Decimal
    annual_interest_rate: Decimal
    number_of_installments: int
    repayment_frequency: Frequency
    interest_method: InterestMethod
    amortization: Amortization
    day_count: DayCount
    start_date: datetime.date | None = None
    first_repayment_date: datetime.date | None = None
    grace_installments: int = 0  # the first installments pay interest only
    minor_unit: int = 2  # the currency's decimal places (ISO 4217: 2 for EUR, 0 for JPY)

    @_exact
    def __post_init__(self):
        for name, kind in (
            ("repayment_frequency", Frequency),
            ("interest_method", InterestMethod),
            ("amortization", Amortization),
            ("day_count", DayCount),
        ):
            object.__setattr__(self, name, _member(kind, name, getattr(self, name)))
        _check_int("minor_unit", self.minor_unit, low=0, high=6)
        _check_int("number_of_installments", self.number_of_installments, low=1)
        _check_int(
            "grace_installments",
            self.grace_installments,
            low=0,
            high=self.number_of_installments - 1,
            why="at least the last installment repays principal",
        )
        object.__setattr__(self, "principal", _amount("principal", self.principal, self))
        if self.principal <= 0:
            raise ValueError(f"principal must be positive, not {self.principal}")
        rate = _decimal("annual_interest_rate", self.annual_interest_rate)
        if rate < 0:
            raise ValueError(f"annual_interest_rate must not be negative, not {rate}")
        object.__setattr__(self, "annual_interest_rate", rate)
        self._check_dates()

    def _check_dates(self):
        for name in ("start_date", "first_repayment_date"):
            if getattr(self, name) is not None:
                _check_date(name, getattr(self, name))
        if self.start_date is None and self.first_repayment_date is None:
            raise ValueError("give first_repayment_date or start_date")
        if (
            self.start_date is not None
            and self.first_repayment_date is not None
            and self.first_repayment_date <= self.start_date
        ):
            raise ValueError(
                f"first_repayment_date ({self.first_repayment_date}) must come after "
                f"start_date ({self.start_date})"
            )

    @property
    def interest_start(self) -> datetime.date:
        """The day interest starts to run: the start date, else one period before the first
        repayment."""
        if self.start_date is not None:
            return self.start_date
        try:
            return _shift(self.first_repayment_date, -1, self.repayment_frequency)
        except ValueError as error:
            raise ValueError(f"first_repayment_date: {error}") from None

    @property
    @_exact
    def rate(self) -> Decimal:
        """The annual rate as a fraction (0.12 for 12 %)."""
        return self.annual_interest_rate / 100


def _member(kind, name, value):
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise ValueError(f"{name} must be one of {allowed}, not {value!r}") from None


def _check_int(name, value, *, low, high=None, why=""):
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{name} must be an integer, not {value!r}")
    if value < low or (high is not None and value > high):
        bounds = f"at least {low}" if high is None else f"between {low} and {high}"
        raise ValueError(f"{name} must be {bounds}{f' ({why})' if why else ''}, not {value}")


def _check_date(name, value):
    # A datetime is a date too, but its time of day would be silently dropped.
    if not isinstance(value, datetime.date) or isinstance(value, datetime.datetime):
        raise ValueError(f"{name} must be a date, not {value!r}")


def _decimal(name, value) -> Decimal:
    # A float has already lost the amount (0.1 is not one tenth): refuse it rather than guess.
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise ValueError(f"{name} must be a Decimal (or an int), not {value!r}")
    value = Decimal(value)
    if not value.is_finite():
        raise ValueError(f"{name} must be a finite number, not {value}")
    return value


def _amount(name, value, terms) -> Decimal:
    """A money amount in the currency: no more decimals than its minor unit allows."""
    value = _decimal(name, value)
    if value != _round(value, terms.minor_unit):
        raise ValueError(f"{name} {value} has more than {terms.minor_unit} decimal places")
    return _round(value, terms.minor_unit)


# --- dates and day counts ---------------------------------------------------------------------


def _month_length(year: int, month: int) -> int:
    return calendar.mdays[month] + (month == 2 and calendar.isleap(year))


def _add_months(anchor: datetime.date, months: int) -> datetime.date:
    """The anchor's day of month `months` later, or that month's last day when it is shorter."""
    year, month_index = divmod(anchor.month - 1 + months, 12)
    year += anchor.year
    last_day = _month_length(year, month_index + 1)
    return datetime.date(year, month_index + 1, min(anchor.day, last_day))


def _shift(anchor: datetime.date, periods: int, frequency: Frequency) -> datetime.date:
    """`periods` periods from `anchor`; a ValueError naming the dates when that leaves the
    calendar (years 1 to 9999), never the OverflowError of date arithmetic."""
    try:
        if frequency is Frequency.MONTHLY:
            return _add_months(anchor, periods)
        return anchor + datetime.timedelta(weeks=_WEEKS[frequency] * periods)
    except (OverflowError, ValueError):
        raise ValueError(
            f"{abs(periods)} {frequency} period(s) {'after' if periods >= 0 else 'before'} "
            f"{anchor} fall outside the calendar ({datetime.date.min} to {datetime.date.max})"
        ) from None


def due_dates(terms: Terms) -> list[datetime.date]:
    """Every due date, each counted from the anchor (31 Jan → 28/29 Feb → 31 Mar → 30 Apr)."""
    if terms.first_repayment_date is not None:
        anchor, offset = terms.first_repayment_date, 0
    else:
        anchor, offset = terms.start_date, 1
    try:
        return [
            _shift(anchor, number - 1 + offset, terms.repayment_frequency)
            for number in range(1, terms.number_of_installments + 1)
        ]
    except ValueError as error:
        name = "start_date" if offset else "first_repayment_date"
        raise ValueError(f"{name}: {error}") from None


def _days_30e_360(start: datetime.date, end: datetime.date) -> int:
    """30E/360 (ISDA): a month's last day counts as its 30th, so 31 Jan → 28 Feb → 31 Mar are
    30 days each, like 15 Jan → 15 Feb."""

    def day(value):
        is_last = value.day == _month_length(value.year, value.month)
        return 30 if is_last else min(value.day, 30)

    return 360 * (end.year - start.year) + 30 * (end.month - start.month) + day(end) - day(start)


def day_count_days(start: datetime.date, end: datetime.date, day_count: DayCount | str) -> int:
    """The days between two dates as the day count counts them."""
    if end < start:
        raise ValueError(f"end ({end}) must not be before start ({start})")
    if _member(DayCount, "day_count", day_count) is DayCount.THIRTY_360:
        return _days_30e_360(start, end)
    return (end - start).days


def _period_rate(rate: Decimal, start, end, day_count) -> Decimal:
    """The unrounded interest on one unit of principal from start to end."""
    return rate * day_count_days(start, end, day_count) / _DAYS_IN_YEAR[day_count]


@_exact
def accrued_interest(
    *,
    principal: Decimal,
    annual_interest_rate: Decimal,
    start: datetime.date,
    end: datetime.date,
    day_count: DayCount | str,
    minor_unit: int = 2,
) -> Decimal:
    """Simple interest on `principal` from `start` (exclusive) to `end` (inclusive) by the day
    count, rounded half-even: what a loan owes between its last due date and a payoff date.

    Over a scheduled period it equals the schedule's interest for that installment."""
    day_count = _member(DayCount, "day_count", day_count)
    _check_int("minor_unit", minor_unit, low=0, high=6)
    _check_date("start", start)
    _check_date("end", end)
    principal = _decimal("principal", principal)
    rate = _decimal("annual_interest_rate", annual_interest_rate)
    if principal < 0 or rate < 0:
        raise ValueError("principal and annual_interest_rate must not be negative")
    return _round(principal * _period_rate(rate / 100, start, end, day_count), minor_unit)


# --- rounding ---------------------------------------------------------------------------------


def _unit(places: int) -> Decimal:
    return Decimal(1).scaleb(-places)


def _round(value: Decimal, places: int, rounding=ROUND_HALF_EVEN) -> Decimal:
    return value.quantize(_unit(places), rounding=rounding)


def _zero(like: Decimal) -> Decimal:
    """Zero with the same decimal places ("0.00"), so that amounts print alike."""
    return like - like


def _spread(amount: Decimal, count: int, places: int) -> list[Decimal]:
    """`amount` in `count` equal rounded parts, the last taking what rounding leaves.

    Half-even first; when that would leave nothing or less for the last part (a tiny amount over
    many parts: 0.18 in 12 parts is 0.02 eleven times) the parts are rounded down instead."""
    share = amount / count
    part = _round(share, places)
    if part * (count - 1) >= amount:
        part = _round(share, places, ROUND_DOWN)
    return [part] * (count - 1) + [amount - part * (count - 1)]


# --- schedules --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Installment:
    number: int
    due_date: datetime.date
    principal: Decimal
    interest: Decimal
    balance: Decimal  # principal still outstanding once this installment is paid
    fees: Decimal  # zero: products add their fees to installments; the maths charges none

    @property
    @_exact
    def total(self) -> Decimal:
        return self.principal + self.interest + self.fees


@dataclass(frozen=True)
class Schedule:
    installments: tuple[Installment, ...]

    @property
    @_exact
    def principal(self) -> Decimal:
        return sum((i.principal for i in self.installments), Decimal(0))

    @property
    @_exact
    def total_interest(self) -> Decimal:
        return sum((i.interest for i in self.installments), Decimal(0))

    @property
    @_exact
    def total_fees(self) -> Decimal:
        return sum((i.fees for i in self.installments), Decimal(0))

    @property
    @_exact
    def total_payable(self) -> Decimal:
        return self.principal + self.total_interest + self.total_fees

    @property
    def maturity_date(self) -> datetime.date:
        return self.installments[-1].due_date


@dataclass(frozen=True)
class _Period:
    number: int
    end: datetime.date  # the due date
    rate: Decimal  # unrounded interest per unit of principal over the period
    interest_only: bool  # a grace period, or an annuity period whose interest exceeds the level


def _periods(terms: Terms, numbers, start: datetime.date, ends, grace_until: int):
    periods, previous = [], start
    for number, end in zip(numbers, ends, strict=True):
        rate = _period_rate(terms.rate, previous, end, terms.day_count)
        periods.append(_Period(number, end, rate, interest_only=number <= grace_until))
        previous = end
    return periods


@_exact
def build_schedule(terms: Terms) -> Schedule:
    """The loan's installments from its terms."""
    dates = due_dates(terms)
    periods = _periods(
        terms, range(1, len(dates) + 1), terms.interest_start, dates, terms.grace_installments
    )
    return _schedule(terms, terms.principal, periods)


def _schedule(terms: Terms, principal: Decimal, periods: list[_Period]) -> Schedule:
    equal = terms.amortization is Amortization.EQUAL_INSTALLMENTS
    if terms.interest_method is InterestMethod.FLAT:
        build = _flat_equal_installments if equal else _flat_equal_principal
    else:
        build = _annuity if equal else _declining_equal_principal
    return Schedule(tuple(build(principal, periods, terms.minor_unit)))


def _amortizing(periods):
    return [p for p in periods if not p.interest_only]


def _principal_parts(principal, periods, places) -> list[Decimal]:
    """Zero in interest-only periods, then the principal in equal parts (the last absorbing
    rounding)."""
    parts = iter(_spread(principal, len(_amortizing(periods)), places))
    return [_zero(principal) if p.interest_only else next(parts) for p in periods]


def _with_balances(periods, principals, interests):
    balance, installments = sum(principals), []
    for period, principal, interest in zip(periods, principals, interests, strict=True):
        balance -= principal
        installments.append(_installment(period, principal, interest, balance))
    return installments


def _installment(period, principal, interest, balance):
    return Installment(period.number, period.end, principal, interest, balance, fees=_zero(balance))


def _declining_equal_principal(principal, periods, places):
    principals = _principal_parts(principal, periods, places)
    interests, balance = [], principal
    for period, part in zip(periods, principals, strict=True):
        interests.append(_round(balance * period.rate, places))
        balance -= part
    return _with_balances(periods, principals, interests)


def _flat_interests(principal, periods, places) -> list[Decimal]:
    """Each period's interest on the original principal for that period's days."""
    return [_round(principal * p.rate, places) for p in periods]


def _flat_equal_principal(principal, periods, places):
    interests = _flat_interests(principal, periods, places)
    return _with_balances(periods, _principal_parts(principal, periods, places), interests)


def _flat_equal_installments(principal, periods, places):
    """The same flat interest in total, in equal parts over all installments, so that the
    installments that repay principal are equal (grace installments pay the interest part)."""
    total = sum(_flat_interests(principal, periods, places), Decimal(0))
    interests = _spread(total, len(periods), places)
    return _with_balances(periods, _principal_parts(principal, periods, places), interests)


# --- the annuity ------------------------------------------------------------------------------


class _Overshoot(ValueError):
    """A rounded-up payment would repay the principal before the last installment."""


def _level_payment(principal, periods) -> Decimal:
    """The unrounded payment that, with each period's own rate, repays `principal` over the
    amortizing periods: P / Σₖ ∏ⱼ≤ₖ 1/(1 + rⱼ). With one rate r throughout this is the
    closed form P·r / (1 - (1 + r)^-n); with none, P / n."""
    discount, factors = Decimal(1), Decimal(0)
    for period in _amortizing(periods):
        discount /= 1 + period.rate
        factors += discount
    return principal / factors


def _with_interest_only(principal, periods):
    """The periods marked interest only where the level payment would not cover the interest.

    A period longer than the others (a broken first period, a 31-day month, a 30/360 week over a
    February end) can bear more interest than the level payment of a long loan at a high rate
    pays. Rather than let the loan grow, such an installment pays its interest only and the
    level payment is spread over the other periods; marking one can spare later ones, so they
    are marked one at a time, earliest first (unrounded arithmetic, as exact as the schedule)."""
    while True:
        payment, balance = _level_payment(principal, periods), principal
        for index, period in enumerate(periods[:-1]):  # the last always repays the rest
            if period.interest_only:
                continue
            interest = balance * period.rate
            if interest > payment:
                periods = [*periods]
                periods[index] = replace(period, interest_only=True)
                break
            balance -= payment - interest
        else:
            return periods, payment


def _annuity(principal, periods, places):
    """Interest-only periods pay their interest; the others one level amount, the last absorbing
    rounding. Rounding the payment up can repay the principal early on a tiny loan over a long
    term; then it is rounded down, and if need be one more minor unit down, which the interest's
    half-even rounding (half a unit a period at most) can no longer overturn."""
    periods, exact = _with_interest_only(principal, periods)
    down = _round(exact, places, ROUND_DOWN)
    for payment in (_round(exact, places), down):
        try:
            return _annuity_with(payment, principal, periods, places)
        except _Overshoot:
            continue
    return _annuity_with(max(down - _unit(places), Decimal(0)), principal, periods, places)


def _annuity_with(payment, principal, periods, places):
    balance, installments = principal, []
    last = periods[-1]
    for period in periods:
        interest = _round(balance * period.rate, places)
        if period is last:
            part = balance
        elif period.interest_only:
            part = _zero(balance)
        else:
            # The rounded interest can exceed the rounded payment by a unit or two: interest only.
            part = max(payment - interest, _zero(balance))
            if part >= balance:  # nothing would be left for the last installment
                raise _Overshoot(
                    f"installment {period.number} would repay all of the {balance} left"
                )
        balance -= part
        installments.append(_installment(period, part, interest, balance))
    return installments


def regular_amount(schedule: Schedule, terms: Terms) -> Decimal:
    """What the borrower agreed to pay each period: the level total of an annuity (installments
    that pay interest only pay more), the principal part of an equal-principal schedule. Read
    from the installments after grace but before the last (the last, when it is the only one)."""
    after_grace = [i for i in schedule.installments if i.number > terms.grace_installments]
    regular = after_grace[:-1] or after_grace
    if terms.amortization is Amortization.EQUAL_INSTALLMENTS:
        return min(i.total for i in regular)
    return min(i.principal for i in regular)


# --- after an overpayment ---------------------------------------------------------------------


@_exact
def reschedule(
    terms: Terms,
    *,
    outstanding_principal: Decimal,
    as_of: datetime.date,
    overpayment: Overpayment | str,
) -> Schedule:
    """The installments still to come once `outstanding_principal` is owed from `as_of` (interest
    before `as_of` is settled by the caller, see `accrued_interest`).

    The remaining due dates and their numbers stay those of the original terms, so month ends
    keep their anchor. `reduce_installments` spreads the outstanding principal over all of them;
    `shorten_term` uses the fewest of them whose regular amount does not exceed the one agreed
    at origination (`regular_amount`), so repeated overpayments never raise the installment.
    Remaining grace installments stay interest only. A flat loan's interest is recomputed flat
    on the outstanding principal."""
    overpayment = _member(Overpayment, "overpayment", overpayment)
    _check_date("as_of", as_of)
    outstanding = _amount("outstanding_principal", outstanding_principal, terms)
    if outstanding <= 0:
        raise ValueError("outstanding_principal must be positive: nothing is left to schedule")
    if as_of < terms.interest_start:
        raise ValueError(f"as_of ({as_of}) is before interest starts ({terms.interest_start})")
    remaining = [(n, d) for n, d in enumerate(due_dates(terms), start=1) if d > as_of]
    if not remaining:
        raise ValueError(f"no installment falls due after {as_of}")
    numbers, dates = zip(*remaining, strict=True)
    periods = _periods(terms, numbers, as_of, dates, terms.grace_installments)

    def over(count):
        return _schedule(terms, outstanding, periods[:count])

    if overpayment is Overpayment.REDUCE_INSTALLMENTS:
        return over(len(periods))
    ceiling = regular_amount(build_schedule(terms), terms)
    fewest = len(periods) - len(_amortizing(periods)) + 1
    # The regular amount only falls as the count grows: bisect for the fewest that fits.
    low, high = fewest, len(periods)
    while low < high:
        middle = (low + high) // 2
        if regular_amount(over(middle), terms) <= ceiling:
            high = middle
        else:
            low = middle + 1
    return over(low)
