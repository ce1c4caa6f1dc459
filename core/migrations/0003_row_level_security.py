from django.db import migrations

from core.db.rls import EnableRowLevelSecurity


class Migration(migrations.Migration):
    dependencies = [("core", "0002_referencecounter")]

    operations = [
        EnableRowLevelSecurity("PartnerKey"),
        EnableRowLevelSecurity("HistoricalPartnerKey"),
        EnableRowLevelSecurity("IdempotencyRecord"),
        EnableRowLevelSecurity("ReferenceCounter"),
    ]
