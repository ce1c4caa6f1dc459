from django.db import migrations

from core.db.rls import EnableRowLevelSecurity


class Migration(migrations.Migration):
    dependencies = [("customers", "0002_search_trigram")]

    operations = [
        EnableRowLevelSecurity("Customer"),
        EnableRowLevelSecurity("HistoricalCustomer"),
        EnableRowLevelSecurity("CustomerRelationship"),
        EnableRowLevelSecurity("HistoricalCustomerRelationship"),
    ]
