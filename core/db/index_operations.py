"""Migration operations that build or drop an index without blocking writes on PostgreSQL.

A plain CREATE INDEX holds a lock that stops every write to the table until the index is built:
minutes on a table of millions of rows (the audit log, postings), during which every audited
write waits. CONCURRENTLY builds it while writes go on. Other databases (SQLite for development
and tests) have no such option and get the plain operation. A migration using these must set
`atomic = False`.

A concurrent build that fails (a cancelled session, a deadlock) leaves an INVALID index of that
name behind, and the migration is not recorded. Running `migrate` again then finishes the job:
an index already built by the failed run is kept, an invalid one is dropped and built again.
"""

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db.migrations.operations import AddIndex, RemoveIndex

_INDEX_STATE = """
SELECT i.indisvalid FROM pg_index AS i JOIN pg_class AS c ON c.oid = i.indexrelid
WHERE c.relname = %s AND pg_catalog.pg_table_is_visible(c.oid)
"""


def _postgres(schema_editor):
    return schema_editor.connection.vendor == "postgresql"


def _built_before(schema_editor, name):
    """Whether a valid index `name` exists; an invalid one (a failed build) is dropped."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(_INDEX_STATE, [name])
        row = cursor.fetchone()
    if row is None:
        return False
    if not row[0]:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {schema_editor.quote_name(name)}")
        return False
    return True


class AddIndexWithoutLock(AddIndexConcurrently):
    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if not _postgres(schema_editor):
            AddIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)
        elif not _built_before(schema_editor, self.index.name):
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if not _postgres(schema_editor):
            AddIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)
        else:  # DROP INDEX CONCURRENTLY IF EXISTS
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class RemoveIndexWithoutLock(RemoveIndexConcurrently):
    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if not _postgres(schema_editor):
            RemoveIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)
        else:  # DROP INDEX CONCURRENTLY IF EXISTS
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if not _postgres(schema_editor):
            RemoveIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)
        elif not _built_before(schema_editor, self.name):
            super().database_backwards(app_label, schema_editor, from_state, to_state)
