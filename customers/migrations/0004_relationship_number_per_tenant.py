"""Relationships get a per-tenant `number`, the `id` the API shows instead of the global id.

Existing rows are numbered 1, 2, ... per tenant in id order (their history rows alike), and the
tenant's counter is set to continue after them.
"""

from django.db import migrations, models

COUNTER = "REL"  # customers.models.RELATIONSHIP_COUNTER, frozen here


def number_existing_relationships(apps, schema_editor):
    Relationship = apps.get_model("customers", "CustomerRelationship")
    History = apps.get_model("customers", "HistoricalCustomerRelationship")
    Counter = apps.get_model("core", "ReferenceCounter")
    last_per_tenant = {}
    for pk, tenant_id in Relationship._base_manager.order_by("id").values_list("id", "tenant_id"):
        number = last_per_tenant.get(tenant_id, 0) + 1
        last_per_tenant[tenant_id] = number
        Relationship._base_manager.filter(pk=pk).update(number=number)
        History._base_manager.filter(id=pk).update(number=number)
    # History of rows no longer present (never expected: relationships are soft-deleted).
    orphans = History._base_manager.filter(number__isnull=True).order_by("id")
    for pk, tenant_id in orphans.values_list("id", "tenant_id").distinct():
        number = last_per_tenant.get(tenant_id, 0) + 1
        last_per_tenant[tenant_id] = number
        History._base_manager.filter(id=pk).update(number=number)
    for tenant_id, last in last_per_tenant.items():
        Counter._base_manager.update_or_create(
            tenant_id=tenant_id, prefix=COUNTER, defaults={"last_value": last}
        )


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0002_referencecounter"),
        ("customers", "0003_customer_type_fields"),
    ]

    operations = [
        migrations.AddField(
            model_name="customerrelationship",
            name="number",
            field=models.PositiveBigIntegerField(editable=False, null=True),
        ),
        migrations.AddField(
            model_name="historicalcustomerrelationship",
            name="number",
            field=models.PositiveBigIntegerField(editable=False, null=True),
        ),
        migrations.RunPython(number_existing_relationships, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="customerrelationship",
            name="number",
            field=models.PositiveBigIntegerField(editable=False),
        ),
        migrations.AlterField(
            model_name="historicalcustomerrelationship",
            name="number",
            field=models.PositiveBigIntegerField(editable=False),
        ),
        migrations.AddConstraint(
            model_name="customerrelationship",
            constraint=models.UniqueConstraint(
                fields=("tenant", "number"), name="relationship_number"
            ),
        ),
    ]
