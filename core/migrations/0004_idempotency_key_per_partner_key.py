import django.db.models.deletion
from django.db import migrations, models


def drop_records_without_a_partner_key(apps, schema_editor):
    # Replay records live a day; one whose key is gone can never be replayed again.
    apps.get_model("core", "IdempotencyRecord")._base_manager.filter(
        partner_key__isnull=True
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0003_session_epoch"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="idempotencyrecord",
            name="idempotency_key_per_tenant",
        ),
        migrations.RunPython(drop_records_without_a_partner_key, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="idempotencyrecord",
            name="partner_key",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="core.partnerkey",
            ),
        ),
        migrations.AddConstraint(
            model_name="idempotencyrecord",
            constraint=models.UniqueConstraint(
                fields=("tenant", "partner_key", "key"), name="idempotency_key_per_partner_key"
            ),
        ),
    ]
