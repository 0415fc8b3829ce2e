"""Core's one initial migration (every migration before the first release squashed into it).

Besides the tables: PostgreSQL (and SQLite) triggers that refuse UPDATE and DELETE of audit
events (core.db_guards), the role groups, the named system user that tasks, webhooks and sync
act as, the audit chain's head row, and the single Dots health row. Each group's permissions
are set by core.roles.sync_role_permissions after every migrate (later apps' permissions do
not exist yet while migrations run).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import core.registry
from core.db_guards import drop_audit_triggers, ensure_audit_triggers

ROLES = ("AP clerk", "Approver", "Payer", "Payouts operator", "Manager", "Administrator")


def audit_triggers(apps, schema_editor):
    ensure_audit_triggers(schema_editor.connection)


def drop_triggers(apps, schema_editor):
    drop_audit_triggers(schema_editor.connection)


def roles_system_user_and_single_rows(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    User = apps.get_model("auth", "User")
    for name in ROLES:
        Group.objects.get_or_create(name=name)
    # Tasks, webhooks and sync act as this user; it can never sign in.
    User.objects.get_or_create(
        username="system",
        defaults={"is_active": False, "first_name": "System", "password": "!"},
    )
    apps.get_model("core", "AuditChainHead").objects.get_or_create(pk=1)
    # The single row core.dots_health reads and updates (pk=1).
    apps.get_model("core", "DotsHealth").objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("auth", "0012_alter_user_first_name_max_length"),
        # The queue table's (key, lock) index for the ORM broker (issue #18 §4) is created at the end.
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [
        migrations.CreateModel(
            name="AuditChainHead",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("last_event_id", models.BigIntegerField(null=True)),
                (
                    "last_hash",
                    models.CharField(
                        default="0000000000000000000000000000000000000000000000000000000000000000", max_length=64
                    ),
                ),
            ],
            options={
                "verbose_name": "audit chain head",
            },
        ),
        migrations.CreateModel(
            name="DotsHealth",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("failing_since", models.DateTimeField(blank=True, null=True)),
                ("consecutive_failures", models.PositiveIntegerField(default=0)),
                ("last_failure_at", models.DateTimeField(blank=True, null=True)),
                ("last_failure_message", models.TextField(blank=True)),
                ("last_success_at", models.DateTimeField(blank=True, null=True)),
                ("outage_started_at", models.DateTimeField(blank=True, null=True)),
            ],
            options={
                "verbose_name": "Dots health",
                "verbose_name_plural": "Dots health",
            },
        ),
        migrations.CreateModel(
            name="DemoAccount",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "user",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="demo_account",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="AuditEvent",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("occurred_at", models.DateTimeField()),
                ("actor_label", models.CharField(max_length=200)),
                (
                    "source",
                    models.CharField(
                        choices=[
                            ("admin", "Admin"),
                            ("task", "Background task"),
                            ("webhook", "Webhook"),
                            ("sync", "Sync"),
                            ("reconcile", "Reconciliation"),
                            ("command", "Command"),
                            ("import", "Import"),
                            ("system", "System"),
                        ],
                        default="admin",
                        max_length=20,
                    ),
                ),
                ("action", models.CharField(max_length=80)),
                ("object_type", models.CharField(blank=True, max_length=100)),
                ("object_id", models.CharField(blank=True, max_length=64)),
                ("object_repr", models.CharField(blank=True, max_length=200)),
                ("search_key", models.CharField(blank=True, editable=False, max_length=200)),
                ("changes", models.JSONField(blank=True, default=dict)),
                ("reason", models.TextField(blank=True)),
                ("ip_address", models.GenericIPAddressField(blank=True, null=True)),
                ("request_id", models.CharField(blank=True, max_length=64)),
                ("prev_hash", models.CharField(max_length=64)),
                ("hash", models.CharField(max_length=64, unique=True)),
                (
                    "actor",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["-occurred_at", "-id"],
                "permissions": [("export_auditevent", "Can export audit events as CSV")],
                "indexes": [
                    models.Index(fields=["object_type", "object_id", "-id"], name="audit_object_idx"),
                    models.Index(fields=["actor", "occurred_at", "id"], name="audit_actor_time_idx"),
                    models.Index(fields=["action", "occurred_at", "id"], name="audit_action_time_idx"),
                    models.Index(fields=["occurred_at", "id"], name="audit_occurred_idx"),
                    models.Index(fields=["object_id"], name="audit_object_id_idx"),
                    models.Index(fields=["search_key"], name="audit_search_key_idx", opclasses=["varchar_pattern_ops"]),
                ],
            },
        ),
        migrations.CreateModel(
            name="QueuedDotsAction",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("kind", models.CharField(choices=core.registry.action_kind_choices, max_length=40)),
                ("target_type", models.CharField(max_length=100)),
                ("target_id", models.CharField(max_length=64)),
                ("target_repr", models.CharField(blank=True, max_length=200)),
                ("arguments", models.JSONField(blank=True, default=dict)),
                ("dedupe_key", models.CharField(max_length=200)),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("waiting", "Waiting"),
                            ("running", "Running"),
                            ("done", "Done"),
                            ("failed", "Failed"),
                            ("cancelled", "Cancelled"),
                        ],
                        default="waiting",
                        max_length=20,
                    ),
                ),
                ("attempts", models.PositiveIntegerField(default=0)),
                ("next_attempt_at", models.DateTimeField()),
                ("first_attempt_at", models.DateTimeField(blank=True, null=True)),
                ("give_up_at", models.DateTimeField(blank=True, null=True)),
                ("claimed_at", models.DateTimeField(blank=True, null=True)),
                ("last_error", models.TextField(blank=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("finished_at", models.DateTimeField(blank=True, null=True)),
                (
                    "actor",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
            ],
            options={
                "verbose_name": "queued Dots action",
                "ordering": ["-id"],
                "permissions": [("cancel_queueddotsaction", "Can cancel a waiting queued Dots action")],
                "indexes": [
                    models.Index(fields=["status", "next_attempt_at", "id"], name="queued_action_due_idx"),
                    models.Index(fields=["target_type", "target_id"], name="queued_action_target_idx"),
                ],
                "constraints": [
                    models.UniqueConstraint(
                        condition=models.Q(("status__in", ["waiting", "running"])),
                        fields=("dedupe_key",),
                        name="queued_action_one_active_per_key",
                    )
                ],
            },
        ),
        # Names a person reads (verbose names): state only, no table changes.
        migrations.AlterModelOptions(
            name="auditevent",
            options={
                "ordering": ["-occurred_at", "-id"],
                "permissions": [("export_auditevent", "Can export audit events as CSV")],
                "verbose_name": "audit event",
            },
        ),
        migrations.AlterModelOptions(
            name="demoaccount",
            options={"verbose_name": "demo login"},
        ),
        migrations.AlterField(
            model_name="auditchainhead",
            name="last_event_id",
            field=models.BigIntegerField(null=True, verbose_name="newest event"),
        ),
        migrations.AlterField(
            model_name="auditchainhead",
            name="last_hash",
            field=models.CharField(
                default="0000000000000000000000000000000000000000000000000000000000000000",
                max_length=64,
                verbose_name="newest event's hash",
            ),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="action",
            field=models.CharField(max_length=80, verbose_name="action code"),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="actor",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
                verbose_name="actor",
            ),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="actor_label",
            field=models.CharField(max_length=200, verbose_name="who"),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="changes",
            field=models.JSONField(blank=True, default=dict, verbose_name="what changed"),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="hash",
            field=models.CharField(max_length=64, unique=True, verbose_name="hash (SHA-256)"),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="ip_address",
            field=models.GenericIPAddressField(blank=True, null=True, verbose_name="IP address"),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="object_id",
            field=models.CharField(blank=True, max_length=64, verbose_name="object ID"),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="object_repr",
            field=models.CharField(blank=True, max_length=200, verbose_name="object"),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="object_type",
            field=models.CharField(blank=True, max_length=100, verbose_name="object type code"),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="occurred_at",
            field=models.DateTimeField(verbose_name="when"),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="prev_hash",
            field=models.CharField(max_length=64, verbose_name="previous event's hash"),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="reason",
            field=models.TextField(blank=True, verbose_name="reason"),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="request_id",
            field=models.CharField(blank=True, max_length=64, verbose_name="request ID"),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="search_key",
            field=models.CharField(blank=True, editable=False, max_length=200, verbose_name="search key"),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="source",
            field=models.CharField(
                choices=[
                    ("admin", "Admin"),
                    ("task", "Background task"),
                    ("webhook", "Webhook"),
                    ("sync", "Sync"),
                    ("reconcile", "Reconciliation"),
                    ("command", "Command"),
                    ("import", "Import"),
                    ("system", "System"),
                ],
                default="admin",
                max_length=20,
                verbose_name="how",
            ),
        ),
        migrations.AlterField(
            model_name="demoaccount",
            name="user",
            field=models.OneToOneField(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="demo_account",
                to=settings.AUTH_USER_MODEL,
                verbose_name="user",
            ),
        ),
        migrations.AlterField(
            model_name="dotshealth",
            name="consecutive_failures",
            field=models.PositiveIntegerField(default=0, verbose_name="failures in a row"),
        ),
        migrations.AlterField(
            model_name="dotshealth",
            name="failing_since",
            field=models.DateTimeField(blank=True, null=True, verbose_name="failing since"),
        ),
        migrations.AlterField(
            model_name="dotshealth",
            name="last_failure_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="last failure"),
        ),
        migrations.AlterField(
            model_name="dotshealth",
            name="last_failure_message",
            field=models.TextField(blank=True, verbose_name="last failure's message"),
        ),
        migrations.AlterField(
            model_name="dotshealth",
            name="last_success_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="last answer"),
        ),
        migrations.AlterField(
            model_name="dotshealth",
            name="outage_started_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="unreachable since"),
        ),
        migrations.AlterField(
            model_name="queueddotsaction",
            name="actor",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
                verbose_name="asked by",
            ),
        ),
        migrations.AlterField(
            model_name="queueddotsaction",
            name="arguments",
            field=models.JSONField(blank=True, default=dict, verbose_name="details"),
        ),
        migrations.AlterField(
            model_name="queueddotsaction",
            name="attempts",
            field=models.PositiveIntegerField(default=0, verbose_name="tries"),
        ),
        migrations.AlterField(
            model_name="queueddotsaction",
            name="claimed_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="started at"),
        ),
        migrations.AlterField(
            model_name="queueddotsaction",
            name="created_at",
            field=models.DateTimeField(auto_now_add=True, verbose_name="queued at"),
        ),
        migrations.AlterField(
            model_name="queueddotsaction",
            name="dedupe_key",
            field=models.CharField(max_length=200, verbose_name="one-at-a-time key"),
        ),
        migrations.AlterField(
            model_name="queueddotsaction",
            name="finished_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="finished at"),
        ),
        migrations.AlterField(
            model_name="queueddotsaction",
            name="first_attempt_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="first try"),
        ),
        migrations.AlterField(
            model_name="queueddotsaction",
            name="give_up_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="stops trying at"),
        ),
        migrations.AlterField(
            model_name="queueddotsaction",
            name="kind",
            field=models.CharField(choices=core.registry.action_kind_choices, max_length=40, verbose_name="action"),
        ),
        migrations.AlterField(
            model_name="queueddotsaction",
            name="last_error",
            field=models.TextField(blank=True, verbose_name="last error"),
        ),
        migrations.AlterField(
            model_name="queueddotsaction",
            name="next_attempt_at",
            field=models.DateTimeField(verbose_name="next try"),
        ),
        migrations.AlterField(
            model_name="queueddotsaction",
            name="status",
            field=models.CharField(
                choices=[
                    ("waiting", "Waiting"),
                    ("running", "Running"),
                    ("done", "Done"),
                    ("failed", "Failed"),
                    ("cancelled", "Cancelled"),
                ],
                default="waiting",
                max_length=20,
                verbose_name="status",
            ),
        ),
        migrations.AlterField(
            model_name="queueddotsaction",
            name="target_id",
            field=models.CharField(max_length=64, verbose_name="record ID"),
        ),
        migrations.AlterField(
            model_name="queueddotsaction",
            name="target_repr",
            field=models.CharField(blank=True, max_length=200, verbose_name="record"),
        ),
        migrations.AlterField(
            model_name="queueddotsaction",
            name="target_type",
            field=models.CharField(max_length=100, verbose_name="record type code"),
        ),
        migrations.RunPython(audit_triggers, drop_triggers),
        migrations.RunPython(roles_system_user_and_single_rows, migrations.RunPython.noop),
        migrations.CreateModel(
            name="SyncProgress",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("step", models.CharField(max_length=100, unique=True)),
                ("cursor", models.CharField(blank=True, max_length=200, verbose_name="resume after")),
                ("pass_full", models.BooleanField(default=False, verbose_name="pass reads every record")),
                ("pass_started_at", models.DateTimeField(blank=True, null=True, verbose_name="pass started")),
                (
                    "last_pass_finished_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="last pass finished"),
                ),
                (
                    "last_full_pass_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="last full pass finished"),
                ),
                ("lease_until", models.DateTimeField(blank=True, null=True)),
                ("lease_owner", models.CharField(blank=True, max_length=64)),
                ("last_run_started_at", models.DateTimeField(blank=True, null=True, verbose_name="last run started")),
                ("last_run_finished_at", models.DateTimeField(blank=True, null=True, verbose_name="last run finished")),
                ("last_due", models.IntegerField(blank=True, null=True, verbose_name="due")),
                ("last_read", models.IntegerField(blank=True, null=True, verbose_name="read")),
                ("last_left", models.IntegerField(blank=True, null=True, verbose_name="left for the next run")),
                ("last_duration_ms", models.IntegerField(blank=True, null=True, verbose_name="last run took (ms)")),
                ("last_summary", models.TextField(blank=True, verbose_name="last run")),
            ],
            options={
                "verbose_name": "sync step progress",
                "verbose_name_plural": "sync steps' progress",
            },
        ),
        migrations.RunSQL(
            sql='CREATE INDEX IF NOT EXISTS core_ormq_key_lock ON django_q_ormq ("key", "lock")',
            reverse_sql="DROP INDEX IF EXISTS core_ormq_key_lock",
        ),
        migrations.CreateModel(
            name="Holiday",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("date", models.DateField(unique=True)),
                ("name", models.CharField(max_length=100)),
            ],
            options={"ordering": ["date"], "verbose_name": "company holiday"},
        ),
    ]
