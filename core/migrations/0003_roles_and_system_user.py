"""Create the role groups, the named system user and the audit chain's head row.

Each group's permissions are set by core.roles.sync_role_permissions after every
migrate (permissions of later apps do not exist yet while migrations run).
"""

from django.db import migrations

ROLES = ("AP clerk", "Approver", "Payer", "Payouts operator", "Manager", "Administrator")


def forward(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    User = apps.get_model("auth", "User")
    AuditChainHead = apps.get_model("core", "AuditChainHead")
    for name in ROLES:
        Group.objects.get_or_create(name=name)
    # Tasks, webhooks and sync act as this user; it can never sign in.
    User.objects.get_or_create(
        username="system",
        defaults={"is_active": False, "first_name": "System", "password": "!"},
    )
    AuditChainHead.objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [("core", "0002_audit_append_only_triggers"), ("auth", "0012_alter_user_first_name_max_length")]
    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
