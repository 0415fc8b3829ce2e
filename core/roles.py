"""Roles are Django groups, each with the least permissions it needs.

Migration 0003 creates the groups; `sync_role_permissions` (run after every
`migrate`, see core.apps) gives each group exactly the permissions listed here, so
a permission added to this table reaches every database on its next migrate, and a
permission removed from it is taken away.

Segregation of duties (the creator of a payable neither approves nor pays it) is
not a permission: services check it for every user, superusers included.
"""

from collections.abc import Iterable

from django.contrib.auth.models import Group, Permission

AP_CLERK = "AP clerk"
APPROVER = "Approver"
PAYER = "Payer"
PAYOUTS_OPERATOR = "Payouts operator"
MANAGER = "Manager"
ADMINISTRATOR = "Administrator"
RECEIVABLES_CLERK = "Receivables clerk"

ALL_ROLES = (AP_CLERK, APPROVER, PAYER, PAYOUTS_OPERATOR, MANAGER, ADMINISTRATOR, RECEIVABLES_CLERK)

# "app_label.codename". Every entry must exist (the system check core.checks.check_seam
# refuses a typo at start-up instead of silently granting nothing).
_AUDIT_READ = ("core.view_auditevent", "core.export_auditevent")

# Each app declares what each role may do with its own models in its `seam.py`
# (core.registry.role_permissions), so apps never edit this file.
# The office's holidays (core.business_days): everyone may see them, Administrators keep the list.
_HOLIDAYS_READ = ("core.view_holiday",)
CORE_ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    AP_CLERK: _HOLIDAYS_READ,
    APPROVER: _HOLIDAYS_READ,
    PAYER: _HOLIDAYS_READ,
    PAYOUTS_OPERATOR: _HOLIDAYS_READ,
    RECEIVABLES_CLERK: _HOLIDAYS_READ,
    MANAGER: (*_AUDIT_READ, *_HOLIDAYS_READ),
    ADMINISTRATOR: (
        *_AUDIT_READ,
        *_HOLIDAYS_READ,
        "core.add_holiday",
        "core.change_holiday",
        "core.delete_holiday",
        "auth.view_user",
        "auth.add_user",
        "auth.change_user",
        "auth.view_group",
        "auth.change_group",
        # Resetting a user's lost authenticator means deleting their device.
        "otp_totp.view_totpdevice",
        "otp_totp.delete_totpdevice",
        # Unlocking a locked-out login means deleting its access attempts.
        "axes.view_accessattempt",
        "axes.delete_accessattempt",
        "axes.view_accessfailurelog",
        "axes.view_accesslog",
        "django_q.view_schedule",
        # Pause, resume and timing only (core.admin_tasks); schedules themselves come from the apps.
        "django_q.change_schedule",
        "django_q.view_success",
        "django_q.view_failure",
        "django_q.view_ormq",
        # What waits for Dots during an outage; cancelling one is audited with a reason.
        "core.view_queueddotsaction",
        "core.cancel_queueddotsaction",
    ),
}

# Managers read everything except second-factor secrets: a TOTP device's key is as
# good as the code itself.
MANAGER_VIEW_EXCLUDED_APPS = ("otp_totp", "otp_static", "sessions", "admin")
# Models whose "view" permission no role gets from the blanket Manager rule.
MANAGER_VIEW_EXCLUDED_MODELS = ("core.auditchainhead", "core.demoaccount", "core.dotshealth", "auth.permission")


def role_permissions() -> dict[str, tuple[str, ...]]:
    """Every role's permission names, from every app's seam (core's included)."""
    from core import registry

    return registry.merged_role_permissions(ALL_ROLES)


def _manager_view_permissions() -> list[Permission]:
    perms = Permission.objects.filter(codename__startswith="view_").select_related("content_type")
    allowed = []
    for perm in perms:
        label = f"{perm.content_type.app_label}.{perm.content_type.model}"
        if perm.content_type.app_label in MANAGER_VIEW_EXCLUDED_APPS or label in MANAGER_VIEW_EXCLUDED_MODELS:
            continue
        allowed.append(perm)
    return allowed


def permissions_named(names: Iterable[str]) -> list[Permission]:
    """Look up "app_label.codename" names; raise naming any that do not exist."""
    found = []
    missing = []
    for name in names:
        app_label, codename = name.split(".", 1)
        perm = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
        if perm is None:
            missing.append(name)
        else:
            found.append(perm)
    if missing:
        raise LookupError(f"Unknown permissions in core.roles: {', '.join(sorted(missing))}")
    return found


def sync_role_permissions() -> None:
    """Create the role groups if needed and set each one's permissions exactly."""
    table = role_permissions()
    for role in ALL_ROLES:
        group, _ = Group.objects.get_or_create(name=role)
        perms = permissions_named(table[role])
        if role == MANAGER:
            perms = list({p.pk: p for p in [*perms, *_manager_view_permissions()]}.values())
        group.permissions.set(perms)


def user_has_role(user, role: str) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    return user.groups.filter(name=role).exists()


def roles_of(user) -> list[str]:
    if not getattr(user, "is_authenticated", False):
        return []
    return list(user.groups.filter(name__in=ALL_ROLES).values_list("name", flat=True))
