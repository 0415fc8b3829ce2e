"""Payable search on PostgreSQL: trigram indexes, so "part of a bill number, a vendor's name or an
external id" stays an index search at a million payables (payables.selectors.search).

PostgreSQL only (pg_trgm); on SQLite the search runs the same LIKEs without them, and this
migration does nothing. The indexes are on the expressions Django's lookups produce:
`icontains` is `UPPER(col::text) LIKE UPPER('%...%')`, `contains` is `col LIKE '%...%'`. They are
not in the model's Meta (an index SQLite cannot build), so makemigrations never sees them.
"""

from django.db import migrations

INDEXES = {
    "payable_number_trgm": "UPPER(bill_number) gin_trgm_ops",
    "payable_number_key_trgm": "bill_number_key gin_trgm_ops",
    "payable_external_id_trgm": "UPPER(external_id) gin_trgm_ops",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, expression in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON payables_payable USING gin ({expression})")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("payables", "0002_payable_rejected_or_canceled_reason")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
