from django.db import migrations

from core.db.rls import EnableRowLevelSecurity


class Migration(migrations.Migration):
    dependencies = [("core", "0004_idempotency_key_per_partner_key")]

    operations = [
        EnableRowLevelSecurity("PartnerKey"),
        EnableRowLevelSecurity("HistoricalPartnerKey"),
        EnableRowLevelSecurity("IdempotencyRecord"),
        EnableRowLevelSecurity("ReferenceCounter"),
    ]
