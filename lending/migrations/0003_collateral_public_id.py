"""Collateral gets a `public_id` (the API's `id`, like a repayment's). Existing rows each get
their own uuid (a column default would give every row the same one), and their history rows
the uuid of the collateral they record."""

import uuid

from django.db import migrations, models


def fill(apps, schema_editor):
    Collateral = apps.get_model("lending", "Collateral")
    History = apps.get_model("lending", "HistoricalCollateral")
    for collateral in Collateral.objects.filter(public_id__isnull=True).only("pk"):
        collateral.public_id = uuid.uuid4()
        collateral.save(update_fields=["public_id"])
        History.objects.filter(id=collateral.pk).update(public_id=collateral.public_id)


class Migration(migrations.Migration):
    dependencies = [
        ("lending", "0002_closed_day"),
    ]

    operations = [
        migrations.AddField(
            model_name="collateral",
            name="public_id",
            field=models.UUIDField(editable=False, null=True),
        ),
        migrations.AddField(
            model_name="historicalcollateral",
            name="public_id",
            field=models.UUIDField(db_index=True, editable=False, null=True),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="collateral",
            name="public_id",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
        migrations.AlterField(
            model_name="historicalcollateral",
            name="public_id",
            field=models.UUIDField(db_index=True, default=uuid.uuid4, editable=False),
        ),
    ]
