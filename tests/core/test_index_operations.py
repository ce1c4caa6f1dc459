"""Indexes built CONCURRENTLY on PostgreSQL: a run that failed half-way leaves an INVALID index,
and running `migrate` again must finish the job rather than stop at "already exists"."""

import pytest
from django.db import DatabaseError, connection

from core.db.index_operations import _built_before
from tests.conftest import postgres_only

pytestmark = [postgres_only, pytest.mark.django_db(transaction=True)]


def index_names():
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'index_probe'")
        return {row[0] for row in cursor.fetchall()}


@pytest.fixture
def probe_table():
    """A scratch table, as the owner (CREATE INDEX needs it; the suite acts as the app role)."""
    app_role = connection.settings_dict["OPTIONS"].get("assume_role")
    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")
        cursor.execute("CREATE TABLE index_probe (n integer)")
        cursor.execute("INSERT INTO index_probe VALUES (1), (1)")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE index_probe")
            if app_role:
                cursor.execute(f'SET ROLE "{app_role}"')


def test_an_invalid_index_is_dropped_and_a_valid_one_kept(probe_table):
    with pytest.raises(DatabaseError), connection.cursor() as cursor:
        # Duplicates: the concurrent build fails and leaves the index behind, INVALID.
        cursor.execute("CREATE UNIQUE INDEX CONCURRENTLY probe_failed ON index_probe (n)")
    with connection.cursor() as cursor:
        cursor.execute("CREATE INDEX probe_built ON index_probe (n)")
    assert index_names() == {"probe_failed", "probe_built"}
    with connection.schema_editor(atomic=False) as editor:
        assert not _built_before(editor, "probe_failed")  # dropped: build it again
        assert _built_before(editor, "probe_built")  # kept: nothing to do
        assert not _built_before(editor, "probe_never")
    assert index_names() == {"probe_built"}
