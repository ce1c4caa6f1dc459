"""PostgreSQL: audit rows cannot be changed or deleted, whatever the application does.

UPDATE is let through only when it seals an event (hash, previous_hash and seq set once, no
other column named); DELETE only in a transaction of the retention command, which sets
`ledgerline.audit_purge` locally (`set_config(..., true)`). SQLite relies on the model's refusal.
"""

from django.db import migrations

CREATE = """
CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('ledgerline.audit_purge', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit rows are append-only: % refused on %', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
-- Fires when an UPDATE names any content column, changed or not; the sealer names only the
-- three chain columns, so it costs the sealer nothing. A column added later joins this list.
CREATE TRIGGER audit_event_content_fixed BEFORE UPDATE OF id, tenant_id, occurred_at, action,
    resource_type, resource_id, actor, channel, request_id, ip_address, user_agent, changes,
    related, xid ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
-- The chain columns are set once, all together, on an event not sealed yet.
CREATE TRIGGER audit_event_sealed_once BEFORE UPDATE OF seq, previous_hash, hash
    ON audit_auditevent FOR EACH ROW
    WHEN (OLD.hash IS NOT NULL OR NEW.hash IS NULL OR NEW.seq IS NULL)
    EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_link_append_only BEFORE UPDATE OR DELETE ON audit_auditeventlink
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
"""

DROP = """
DROP TRIGGER IF EXISTS audit_event_no_delete ON audit_auditevent;
DROP TRIGGER IF EXISTS audit_event_content_fixed ON audit_auditevent;
DROP TRIGGER IF EXISTS audit_event_sealed_once ON audit_auditevent;
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
