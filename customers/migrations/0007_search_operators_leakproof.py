"""Customer search keeps its trigram index under row-level security (PostgreSQL only).

PostgreSQL applies a table's RLS policy before any condition whose operator is not LEAKPROOF,
and such a condition can then not be an index condition: search would read every row of the
tenant (0.58 s at 50,000 customers instead of 0.03-0.05 s). The operators search uses, `LIKE`
(textlike) and pg_trgm's `%`/`%>`, raise no error that depends on a row's value, and the
application writes all SQL that uses them, so marking them leakproof gives nothing away.
Only a superuser may do it; any other migrating role gets the statements to hand over
(docs/operations.md, "Search and leakproof operators").
"""

from django.db import DatabaseError, migrations, transaction

FUNCTIONS = [
    "textlike(text, text)",
    "similarity_op(text, text)",
    "word_similarity_op(text, text)",
    "word_similarity_commutator_op(text, text)",
]


def _alter(schema_editor, leakproof):
    keyword = "LEAKPROOF" if leakproof else "NOT LEAKPROOF"
    statements = [f"ALTER FUNCTION {function} {keyword}" for function in FUNCTIONS]
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            for statement in statements:
                schema_editor.execute(statement)
    except DatabaseError:
        print(
            "\n  WARNING: could not mark the search operators LEAKPROOF (only a superuser may). "
            "Search still works, but under row-level security it cannot use its trigram "
            "index. Ask a superuser to run:\n    " + ";\n    ".join(statements) + ";"
        )


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        _alter(schema_editor, leakproof=True)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        _alter(schema_editor, leakproof=False)


class Migration(migrations.Migration):
    dependencies = [("customers", "0006_search_plan_stability")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
