"""Migration operations that build or drop an index without blocking writes on PostgreSQL.

A plain CREATE INDEX holds a lock that stops every write to the table until the index is built:
minutes on a table of millions of rows (the audit log, postings), during which every audited
write waits. CONCURRENTLY builds it while writes go on. Other databases (SQLite for development
and tests) have no such option and get the plain operation. A migration using these must set
`atomic = False`; if a concurrent build fails, PostgreSQL leaves an INVALID index behind: drop
it and migrate again (docs/operations.md).
"""

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db.migrations.operations import AddIndex, RemoveIndex


def _postgres(schema_editor):
    return schema_editor.connection.vendor == "postgresql"


class AddIndexWithoutLock(AddIndexConcurrently):
    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        operation = AddIndexConcurrently if _postgres(schema_editor) else AddIndex
        operation.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        operation = AddIndexConcurrently if _postgres(schema_editor) else AddIndex
        operation.database_backwards(self, app_label, schema_editor, from_state, to_state)


class RemoveIndexWithoutLock(RemoveIndexConcurrently):
    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        operation = RemoveIndexConcurrently if _postgres(schema_editor) else RemoveIndex
        operation.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        operation = RemoveIndexConcurrently if _postgres(schema_editor) else RemoveIndex
        operation.database_backwards(self, app_label, schema_editor, from_state, to_state)
