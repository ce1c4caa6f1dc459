"""Drop the lone tenant and partner-key indexes of idempotency records: the unique (tenant,
partner key, key) index finds a record, and partner keys are never deleted. Dropped without
locking the table on PostgreSQL (DROP INDEX CONCURRENTLY), so partner requests and key
authentication go on during the migration; the foreign keys themselves are untouched."""

import django.db.models.deletion
from django.db import migrations, models

INDEXES = {
    "core_idempotencyrecord_partner_key_id_7518e5c6": "partner_key_id",
    "core_idempotencyrecord_tenant_id_61a715e2": "tenant_id",
}


def _concurrently(schema_editor):
    return " CONCURRENTLY" if schema_editor.connection.vendor == "postgresql" else ""


def drop_indexes(apps, schema_editor):
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX{_concurrently(schema_editor)} IF EXISTS {name}")


def restore_indexes(apps, schema_editor):
    for name, column in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX{_concurrently(schema_editor)} IF NOT EXISTS {name} "
            f"ON core_idempotencyrecord ({column})"
        )


class Migration(migrations.Migration):
    atomic = False  # CONCURRENTLY cannot run inside a transaction

    dependencies = [
        ("core", "0007_history_index_by_object"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="idempotencyrecord",
                    name="partner_key",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="core.partnerkey",
                    ),
                ),
                migrations.AlterField(
                    model_name="idempotencyrecord",
                    name="tenant",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="core.tenant",
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(drop_indexes, restore_indexes)],
        ),
    ]
