"""PostgreSQL: audit rows cannot be changed or deleted, whatever the application does.

UPDATE is let through only when it seals an event (hash, previous_hash and seq set once, every
other column unchanged); DELETE only in a transaction of the retention command, which sets
`ledgerline.audit_purge` locally (`set_config(..., true)`). SQLite relies on the model's refusal.
"""

from django.db import migrations

CREATE = """
CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF current_setting('ledgerline.audit_purge', true) = 'on' THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'audit rows are append-only: DELETE refused on %', TG_TABLE_NAME
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_TABLE_NAME = 'audit_auditevent' THEN
        IF OLD.hash IS NULL AND NEW.hash IS NOT NULL
           AND (to_jsonb(NEW) - 'hash' - 'previous_hash' - 'seq')
               = (to_jsonb(OLD) - 'hash' - 'previous_hash' - 'seq') THEN
            RETURN NEW;  -- the sealer linking the event into its chain, once
        END IF;
    END IF;
    RAISE EXCEPTION 'audit rows are append-only: UPDATE refused on %', TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_link_append_only BEFORE UPDATE OR DELETE ON audit_auditeventlink
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
"""

DROP = """
DROP TRIGGER IF EXISTS audit_event_append_only ON audit_auditevent;
DROP TRIGGER IF EXISTS audit_link_append_only ON audit_auditeventlink;
DROP FUNCTION IF EXISTS audit_refuse_change();
"""


def _on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)  # no placeholders: % is plpgsql

    return run


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [migrations.RunPython(_on_postgresql(CREATE), _on_postgresql(DROP))]
