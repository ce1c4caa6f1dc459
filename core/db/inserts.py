"""INSERT a row unless it would break a unique constraint, in one statement and no savepoint.

`Model.objects.create()` inside `atomic()` costs a SAVEPOINT and a RELEASE around the INSERT so
that an IntegrityError can be caught; `INSERT ... ON CONFLICT DO NOTHING RETURNING id` answers
the same question in one round trip. Like the plain INSERT, it waits for a concurrent
transaction inserting the same values to end: then that row exists (it committed) or this one
is inserted (it rolled back).
"""

from django.db import connection


def insert_unless_conflict(instance, *, conflict_fields, condition=""):
    """Insert `instance` (a TenantScopedModel, not yet saved) and return True, or return False
    and write nothing when a row with the same `conflict_fields` exists. `condition` is the SQL
    predicate of a partial unique index (`"NOT (key = '')"`)."""
    instance.assign_tenant()
    meta = instance._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    values = [f.get_db_prep_save(f.pre_save(instance, True), connection) for f in fields]
    quote = connection.ops.quote_name
    target = ", ".join(quote(meta.get_field(name).column) for name in conflict_fields)
    where = f" WHERE {condition}" if condition else ""
    sql = (
        f"INSERT INTO {quote(meta.db_table)} "  # noqa: S608 (identifiers from model metadata)
        f"({', '.join(quote(f.column) for f in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))}) "
        f"ON CONFLICT ({target}){where} DO NOTHING RETURNING {quote(meta.pk.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        row = cursor.fetchone()
    if row is None:
        return False
    instance.pk = row[0]
    instance._state.adding = False
    instance._state.db = connection.alias
    return True
