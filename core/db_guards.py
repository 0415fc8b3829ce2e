"""Database triggers that refuse UPDATE and DELETE of audit events.

The model and its queryset already refuse them; the triggers also stop raw SQL
from the application's own connection. Someone with the database owner's rights
can still drop a trigger: the hash chain is what reveals that (verify_audit_log).

On SQLite only UPDATE is refused, because test isolation empties tables with
DELETE there (PostgreSQL uses TRUNCATE, which row triggers do not see). SQLite
also drops a table's triggers whenever a migration rebuilds the table, so
`ensure_audit_triggers` runs after every migrate (core.apps), not only once.
"""

POSTGRES_CREATE = """
CREATE OR REPLACE FUNCTION core_auditevent_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only: % refused', TG_OP;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS core_auditevent_append_only ON core_auditevent;
CREATE TRIGGER core_auditevent_append_only
    BEFORE UPDATE OR DELETE ON core_auditevent
    FOR EACH ROW EXECUTE FUNCTION core_auditevent_append_only();
"""
POSTGRES_DROP = """
DROP TRIGGER IF EXISTS core_auditevent_append_only ON core_auditevent;
DROP FUNCTION IF EXISTS core_auditevent_append_only();
"""
SQLITE_CREATE = """
CREATE TRIGGER IF NOT EXISTS core_auditevent_append_only BEFORE UPDATE ON core_auditevent
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only: UPDATE refused');
END;
"""
SQLITE_DROP = "DROP TRIGGER IF EXISTS core_auditevent_append_only;"


def ensure_audit_triggers(connection) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(POSTGRES_CREATE)
        elif connection.vendor == "sqlite":
            cursor.execute(SQLITE_CREATE)


def drop_audit_triggers(connection) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(POSTGRES_DROP)
        elif connection.vendor == "sqlite":
            cursor.execute(SQLITE_DROP)
