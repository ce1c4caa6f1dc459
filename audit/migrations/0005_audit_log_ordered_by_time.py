# The log is listed newest first by (occurred_at, id): each filter's index ends in that order
# and replaces the one that ended in id. Built before the old ones go, without blocking writes
# on PostgreSQL (core/db/index_operations.py), so audited writes go on during the migration.

from django.db import migrations, models

from core.db.index_operations import AddIndexWithoutLock, RemoveIndexWithoutLock


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("audit", "0004_tenant_led_indexes_only"),
        ("core", "0007_history_index_by_object"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="auditevent",
            options={"ordering": ["-occurred_at", "-id"]},
        ),
        AddIndexWithoutLock(
            model_name="auditevent",
            index=models.Index(
                fields=["tenant", "resource_type", "resource_id", "occurred_at", "id"],
                name="audit_resource_time",
            ),
        ),
        AddIndexWithoutLock(
            model_name="auditevent",
            index=models.Index(fields=["tenant", "actor", "occurred_at", "id"], name="audit_actor_time"),
        ),
        AddIndexWithoutLock(
            model_name="auditevent",
            index=models.Index(
                fields=["tenant", "action", "occurred_at", "id"], name="audit_action_time"
            ),
        ),
        AddIndexWithoutLock(
            model_name="auditevent",
            index=models.Index(
                fields=["tenant", "channel", "occurred_at", "id"], name="audit_channel_time"
            ),
        ),
        RemoveIndexWithoutLock(model_name="auditevent", name="audit_tenant_id"),
        RemoveIndexWithoutLock(model_name="auditevent", name="audit_resource"),
        RemoveIndexWithoutLock(model_name="auditevent", name="audit_actor"),
        RemoveIndexWithoutLock(model_name="auditevent", name="audit_action"),
        RemoveIndexWithoutLock(model_name="auditevent", name="audit_channel"),
    ]
