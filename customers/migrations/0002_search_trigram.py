"""Trigram search on PostgreSQL: pg_trgm and btree_gin, a GIN index led by tenant_id, and the
database's word-similarity threshold.

Both extensions ship with PostgreSQL (contrib). On SQLite this migration does nothing: search
falls back to case-insensitive containment there.
"""

from django.contrib.postgres.operations import BtreeGinExtension, TrigramExtension
from django.db import DatabaseError, migrations, transaction

INDEX = "customer_tenant_search_trgm"
# pg_trgm's default word-similarity cut-off (0.6) misses two swapped letters ("Kowalksi" for
# "Kowalski" scores 0.56); 0.5 finds them and still ranks exact matches first.
WORD_SIMILARITY_THRESHOLD = "0.5"


def create_index(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON customers_customer USING gin "
        "(tenant_id, search_name gin_trgm_ops, email gin_trgm_ops, reference gin_trgm_ops)"
    )
    database = schema_editor.quote_name(connection.settings_dict["NAME"])
    setting = f"pg_trgm.word_similarity_threshold = {WORD_SIMILARITY_THRESHOLD}"
    schema_editor.execute(f"SET {setting}")  # this session, which may go on to serve
    try:
        with transaction.atomic(using=connection.alias):
            schema_editor.execute(f"ALTER DATABASE {database} SET {setting}")  # new sessions
    except DatabaseError:
        # Only the database owner may do this (managed services often refuse it).
        print(
            f"\n  WARNING: could not set {setting} for the database. Search still works, but "
            f"misspellings with swapped letters will not match. Ask the database owner to run:"
            f"\n    ALTER DATABASE {database} SET {setting};"
        )


def drop_index(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")
    database = schema_editor.quote_name(connection.settings_dict["NAME"])
    schema_editor.execute(f"ALTER DATABASE {database} RESET pg_trgm.word_similarity_threshold")


class Migration(migrations.Migration):
    dependencies = [("customers", "0001_initial")]

    operations = [
        TrigramExtension(),
        BtreeGinExtension(),
        migrations.RunPython(create_index, drop_index, elidable=False),
    ]
