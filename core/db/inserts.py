"""INSERT a row unless it would break a unique constraint, in one statement and no savepoint.

`Model.objects.create()` inside `atomic()` costs a SAVEPOINT and a RELEASE around the INSERT so
that an IntegrityError can be caught; `INSERT ... ON CONFLICT DO NOTHING RETURNING id` answers
the same question in one round trip. Like the plain INSERT, it waits for a concurrent
transaction inserting the same values to end: then that row exists (it committed) or this one
is inserted (it rolled back).
"""

import functools

from django.db import connection


def insert_fields(model):
    """The fields an INSERT of `model` writes: every concrete one but the primary key."""
    return [f for f in model._meta.concrete_fields if not f.primary_key]


def db_values(instance, fields):
    """What `save()` would write to `fields` of `instance`, as the database takes it."""
    return [f.get_db_prep_save(f.pre_save(instance, True), connection) for f in fields]


def typed_placeholder(field):
    """%s, on PostgreSQL with a cast to the column's type: literals in a VALUES list have none.
    Text stays uncast, so that an over-long value is an error (a cast to varchar(n) would
    truncate)."""
    if connection.vendor != "postgresql" or field.get_internal_type() in (
        "CharField",
        "TextField",
    ):
        return "%s"
    return f"%s::{field.db_type(connection)}"


@functools.cache
def insert_unless_conflict_sql(model, *, conflict_fields, condition="", typed=False):
    """`INSERT INTO <model> (<insert_fields>) VALUES (...) ON CONFLICT (<conflict_fields>)
    [WHERE <condition>] DO NOTHING RETURNING <pk>`, taking `db_values(obj, insert_fields(model))`.
    `typed` casts the placeholders (`typed_placeholder`), for a statement nested in a larger
    one (a data-modifying CTE)."""
    meta = model._meta
    fields = insert_fields(model)
    quote = connection.ops.quote_name
    placeholder = typed_placeholder if typed else (lambda field: "%s")
    target = ", ".join(quote(meta.get_field(name).column) for name in conflict_fields)
    where = f" WHERE {condition}" if condition else ""
    return (
        f"INSERT INTO {quote(meta.db_table)} "  # noqa: S608 (identifiers from model metadata)
        f"({', '.join(quote(f.column) for f in fields)}) "
        f"VALUES ({', '.join(placeholder(f) for f in fields)}) "
        f"ON CONFLICT ({target}){where} DO NOTHING RETURNING {quote(meta.pk.column)}"
    )


def insert_unless_conflict(instance, *, conflict_fields, condition=""):
    """Insert `instance` (a TenantScopedModel, not yet saved) and return True, or return False
    and write nothing when a row with the same `conflict_fields` exists. `condition` is the SQL
    predicate of a partial unique index (`"NOT (key = '')"`)."""
    instance.assign_tenant()
    model = type(instance)
    sql = insert_unless_conflict_sql(
        model, conflict_fields=tuple(conflict_fields), condition=condition
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, db_values(instance, insert_fields(model)))
        row = cursor.fetchone()
    if row is None:
        return False
    instance.pk = row[0]
    instance._state.adding = False
    instance._state.db = connection.alias
    return True
