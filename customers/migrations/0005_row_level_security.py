from django.db import migrations

from core.db.rls import EnableRowLevelSecurity


class Migration(migrations.Migration):
    dependencies = [("core", "0005_row_level_security"), ("customers", "0004_relationship_number_per_tenant")]

    operations = [
        EnableRowLevelSecurity("Customer"),
        EnableRowLevelSecurity("HistoricalCustomer"),
        EnableRowLevelSecurity("CustomerRelationship"),
        EnableRowLevelSecurity("HistoricalCustomerRelationship"),
    ]
