"""Each tenant's last closed day moves from a `core.ReferenceCounter` named `lend:cod` (its
ordinal) to its own table, `lending.ClosedDay`, behind the tenant wall."""

import datetime

import django.db.models.deletion
from django.db import migrations, models

from core.db.rls import EnableRowLevelSecurity

COUNTER = "lend:cod"


def from_counters(apps, schema_editor):
    Counter = apps.get_model("core", "ReferenceCounter")
    ClosedDay = apps.get_model("lending", "ClosedDay")
    counters = Counter.objects.filter(prefix=COUNTER, last_value__gt=0)
    ClosedDay.objects.bulk_create(
        ClosedDay(
            tenant_id=counter.tenant_id,
            last_closed_on=datetime.date.fromordinal(counter.last_value),
            created_at=counter.created_at,
            updated_at=counter.updated_at,
        )
        for counter in counters
    )
    Counter.objects.filter(prefix=COUNTER).delete()


def to_counters(apps, schema_editor):
    Counter = apps.get_model("core", "ReferenceCounter")
    ClosedDay = apps.get_model("lending", "ClosedDay")
    Counter.objects.bulk_create(
        Counter(
            tenant_id=closed.tenant_id,
            prefix=COUNTER,
            last_value=closed.last_closed_on.toordinal(),
        )
        for closed in ClosedDay.objects.all()
    )


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0006_history_channel"),
        ("lending", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="ClosedDay",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("last_closed_on", models.DateField()),
                (
                    "tenant",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="core.tenant",
                    ),
                ),
            ],
            options={
                "abstract": False,
            },
        ),
        EnableRowLevelSecurity("ClosedDay"),
        migrations.RunPython(from_counters, to_counters),
    ]
