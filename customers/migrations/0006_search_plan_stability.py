"""Search keeps its index plan on every run (PostgreSQL; nothing on SQLite).

1. pg_trgm declares its similarity operators as cheap as `=` (cost 1). Measured, one evaluation
   on a name costs 5-15 µs, a few hundred times a comparison, so the planner underrated a
   sequential scan (which evaluates them on every row of the tenant) and chose it whenever its
   row estimate for a common name came out high: 160-220 ms instead of 20-40 ms. Declaring a
   cost of 100 (still below the measured figure) makes the index plan win by a wide margin
   whatever the estimate, and leaves a sequential scan to queries matching most of the table.
2. The search index gets `fastupdate = off`: with it on, new rows wait in a pending list that
   every search reads linearly until a vacuum merges it, so latency drifted with the last
   vacuum. Customers are written one at a time, so updating the index at once costs little.

Only the owner of the pg_trgm functions (normally a superuser) may change their cost; for any
other migrating role the migration prints the statements to hand to the database owner.
"""

from django.db import DatabaseError, migrations, transaction

INDEX = "customer_tenant_search_trgm"
# The pg_trgm functions search evaluates per row: the operators `%`, `<%`, `%>` and the scores.
FUNCTIONS = [
    "similarity(text, text)",
    "similarity_op(text, text)",
    "word_similarity(text, text)",
    "word_similarity_op(text, text)",
    "word_similarity_commutator_op(text, text)",
    "strict_word_similarity(text, text)",
]
COST = 100
DEFAULT_COST = 1


def set_costs(schema_editor, cost):
    statements = [f"ALTER FUNCTION {function} COST {cost}" for function in FUNCTIONS]
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            for statement in statements:
                schema_editor.execute(statement)
    except DatabaseError:
        print(
            "\n  WARNING: could not declare the cost of the pg_trgm functions (the migrating "
            "role does not own them). Search still works, but the planner may choose a slow "
            "sequential scan for common names. Ask the database owner to run:\n    "
            + ";\n    ".join(statements)
            + ";"
        )


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    set_costs(schema_editor, COST)
    schema_editor.execute(f"ALTER INDEX {INDEX} SET (fastupdate = off)")
    schema_editor.execute("SELECT gin_clean_pending_list(%s::regclass)", [INDEX])


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    set_costs(schema_editor, DEFAULT_COST)
    schema_editor.execute(f"ALTER INDEX {INDEX} RESET (fastupdate)")


class Migration(migrations.Migration):
    dependencies = [("customers", "0005_row_level_security")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
