"""Refuse UPDATE and DELETE of audit events in the database itself (see core.db_guards)."""

from django.db import migrations

from core.db_guards import drop_audit_triggers, ensure_audit_triggers


def forward(apps, schema_editor):
    ensure_audit_triggers(schema_editor.connection)


def backward(apps, schema_editor):
    drop_audit_triggers(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]
    operations = [migrations.RunPython(forward, backward)]
