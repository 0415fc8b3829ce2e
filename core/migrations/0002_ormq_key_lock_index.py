"""An index on django-q2's queue table for the ORM broker's every fetch (issue #18 §4).

django-q2 declares none on `django_q_ormq`, and each fetch is
`WHERE key = <cluster> AND lock < now() LIMIT <bulk>` (django_q/brokers/orm.py `dequeue`;
`queue_size` and `lock_size` filter the same two columns). Without it every fetch reads the
whole table, finished-but-not-yet-deleted rows included. The table is django-q2's, so the
index is created here, in raw SQL that PostgreSQL and SQLite both accept, and only if absent.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [
        migrations.RunSQL(
            sql='CREATE INDEX IF NOT EXISTS core_ormq_key_lock ON django_q_ormq ("key", "lock")',
            reverse_sql="DROP INDEX IF EXISTS core_ormq_key_lock",
        ),
    ]
