"""Close the day for every tenant's loans (or one tenant's): overdue installments, days past
due, penalties. Catches up missed days in order; refused while another run holds the lock
(docs/operations.md, "Close of day")."""

import datetime
import sys
import time

from django.core.management.base import CommandError
from django.utils import timezone

from accounts.currencies import format_amount
from core.errors import ServiceError
from core.management.base import SystemCommand
from core.models import Tenant
from lending.close_of_day import run_close_of_day


class Progress:
    """One line on stderr per tenant and day, rewritten in place: loans done, how fast."""

    def __init__(self, stream=sys.stderr):
        self.stream, self.current, self.start = stream, None, time.monotonic()

    def __call__(self, tenant, day, done, total):
        if (tenant.pk, day) != self.current:
            if self.current is not None:
                self.stream.write("\n")
            self.current, self.start = (tenant.pk, day), time.monotonic()
        rate = done / max(time.monotonic() - self.start, 1e-6)
        percent = 100 * done / total if total else 100
        self.stream.write(
            f"\r{tenant.slug} {day}: {done}/{total} loans ({percent:.0f} %, {rate:,.0f}/s)"
        )
        self.stream.flush()

    def close(self):
        if self.current is not None:
            self.stream.write("\n")


def _date(value):
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--date must be a date as YYYY-MM-DD, not {value!r}.") from None


class Command(SystemCommand):
    help = (
        "Close the day for loans: mark overdue installments, set days past due and charge "
        "penalties, for every day since the last one closed up to --date (default: today)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--date", help="the day to close up to, YYYY-MM-DD (default: today)")
        parser.add_argument("--tenant", help="slug of the one tenant to close")
        parser.add_argument("--no-progress", action="store_true", help="no progress line on stderr")

    def handle(self, *args, date=None, tenant=None, no_progress=False, **options):
        today = timezone.localdate()
        on = _date(date) if date else today
        if on > today:
            raise CommandError(
                f"--date {on} is after today ({today}): a day is closed once it has begun, "
                "and a day closed is never closed again."
            )
        bank = None
        if tenant is not None:
            bank = Tenant.objects.filter(slug=tenant).first()
            if bank is None:
                raise CommandError(f"No tenant with slug {tenant!r}.")
        progress = None if no_progress else Progress(self.stderr._out)
        try:
            closed = run_close_of_day(on=on, tenant=bank, progress=progress)
        except ServiceError as error:
            raise CommandError(str(error)) from None
        finally:
            if progress:
                progress.close()
        for day in closed:
            penalties = ", ".join(
                f"{format_amount(amount, code)} {code}"
                for code, amount in day.penalty_total.items()
            )
            self.stdout.write(
                f"{day.tenant} {day.day}: {day.loans} active loans, {day.overdue} installments "
                f"overdue, {day.penalties} penalties{f' ({penalties})' if penalties else ''}, "
                f"{day.in_arrears} loans in arrears."
            )
        if not closed:
            self.stdout.write(f"Nothing to do: every day up to {on} is closed already.")
