"""Every existing tenant gets its internal ledger accounts in its default currency (new tenants
get them when created: accounts.internal). Written with the migration state's models, so
numbers are computed here as accounts.numbers does; each account gets its creation history
row, by `system:migrate`."""

from django.db import migrations
from django.db.models import F
from django.utils import timezone
from stdnum.iso7064 import mod_97_10

CODES = {
    "settlement": "Settlement (cash)",
    "loan_portfolio": "Loan portfolio",
    "interest_income": "Interest income",
    "fee_income": "Fee income",
    "penalty_income": "Penalty income",
    "write_off_expense": "Write-off expense",
    "suspense": "Suspense",
}


def create(apps, schema_editor):
    Tenant = apps.get_model("core", "Tenant")
    Counter = apps.get_model("core", "ReferenceCounter")
    Account = apps.get_model("accounts", "Account")
    Balance = apps.get_model("accounts", "AccountBalance")
    History = apps.get_model("accounts", "HistoricalAccount")
    now = timezone.now()
    for tenant in Tenant.objects.all():
        currency = tenant.default_currency
        have = set(
            Account.objects.filter(tenant=tenant, currency=currency)
            .exclude(internal_code="")
            .values_list("internal_code", flat=True)
        )
        missing = [code for code in CODES if code not in have]
        if not missing:
            continue
        counter, _ = Counter.objects.get_or_create(
            tenant=tenant, prefix="ACCNO", defaults={"last_value": 0}
        )
        Counter.objects.filter(pk=counter.pk).update(last_value=F("last_value") + len(missing))
        first = counter.last_value + 1
        for offset, code in enumerate(missing):
            base = f"{first + offset:010d}"
            account = Account.objects.create(
                tenant=tenant,
                reference=f"{code.upper().replace('_', '-')}-{currency}",
                account_number=base + mod_97_10.calc_check_digits(base),
                internal_code=code,
                name=f"{CODES[code]} {currency}",
                currency=currency,
                opened_on=now.date(),
            )
            Balance.objects.create(account=account, tenant=tenant)
            values = {
                field.attname: getattr(account, field.attname)
                for field in Account._meta.concrete_fields
            }
            History.objects.create(
                **values,
                history_date=now,
                history_type="+",
                actor="system:migrate",
                channel="command",
                action="create",
            )


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_ledger_immutable_trigger"), ("core", "0006_history_channel")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
