"""Database errors read in one place: which constraint an IntegrityError violated."""

import re

from django.db import models

# SQLite names only the columns of a violated unique index, and the name of a CHECK constraint.
_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: (?P<columns>.+)$")
_SQLITE_CHECK = re.compile(r"CHECK constraint failed: (?P<name>\w+)")


def violated_constraint(error, model):
    """The name of the constraint of `model` that `error` (an IntegrityError) violated, or None.

    PostgreSQL (psycopg) reports it in the error's diagnostics; SQLite reports a CHECK
    constraint's name, and for a unique index its columns, which are matched to `model`'s
    unique constraints.
    """
    diag = getattr(error.__cause__, "diag", None)
    if diag is not None:
        return diag.constraint_name
    message = str(error)
    check = _SQLITE_CHECK.search(message)
    if check:
        return check["name"]
    unique = _SQLITE_UNIQUE.search(message)
    if unique:
        columns = {part.strip().rsplit(".", 1)[-1] for part in unique["columns"].split(",")}
        for constraint in model._meta.constraints:
            if isinstance(constraint, models.UniqueConstraint) and columns == {
                model._meta.get_field(name).column for name in constraint.fields
            }:
                return constraint.name
    return None
