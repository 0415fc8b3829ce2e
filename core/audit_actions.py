"""Every audit action name, with how it reads in the audit history.

`audit.record` refuses a name that is not known, so a typo cannot create a new kind
of event that no filter knows about. Core's actions are here; each app declares its
own through its `seam.py` (core.registry.audit_actions), so apps never edit this file.
"""

# Core's actions by area: the audit history's action filter lists them under these headings.
SIGN_IN_ACTIONS: dict[str, str] = {
    "user.logged_in": "Signed in",
    "user.logged_out": "Signed out",
    "user.login_failed": "Sign-in failed",
    "user.otp_failed": "Wrong authenticator code",
    "user.two_factor_enabled": "Two-factor sign-in set up",
    "user.two_factor_disabled": "Two-factor sign-in removed",
    "user.two_factor_reset": "Authenticator reset by an Administrator",
    "user.lockout_reset": "Sign-in lockout reset",
}
ACCESS_ACTIONS: dict[str, str] = {
    "user.created": "User created",
    "user.updated": "User updated",
    "user.deleted": "User deleted",
    "group.created": "Role created",
    "group.updated": "Role updated",
    "group.deleted": "Role deleted",
    "audit.exported": "Audit history exported",
    "list.exported": "List exported (CSV or Excel)",
    "record.created": "Created",
    "record.updated": "Updated",
    "record.deleted": "Deleted",
}
# Dots outages and the actions queued while Dots is unreachable (core.dots_health, core.action_queue)
DOTS_QUEUE_ACTIONS: dict[str, str] = {
    "dots.outage_started": "Dots unreachable",
    "dots.outage_ended": "Dots answering again",
    "dots_action.queued": "Dots action queued",
    "dots_action.started": "Queued Dots action started",
    "dots_action.done": "Queued Dots action done",
    "dots_action.failed": "Queued Dots action failed",
    "dots_action.retry_scheduled": "Queued Dots action to retry",
    "dots_action.reclaimed": "Queued Dots action reclaimed",
    "dots_action.cancelled": "Queued Dots action cancelled",
}
# Background tasks (core.task_guard, core.admin_tasks)
TASK_ACTIONS: dict[str, str] = {
    "task.refused": "Background task refused",
    "task.resubmitted": "Background task run again",
    "schedule.updated": "Schedule changed",
}
CORE_AREAS: dict[str, dict[str, str]] = {
    "Sign-in and authenticators": SIGN_IN_ACTIONS,
    "Users, roles and the audit history": ACCESS_ACTIONS,
    "Dots outages and queued actions": DOTS_QUEUE_ACTIONS,
    "Background tasks": TASK_ACTIONS,
}
CORE_ACTIONS: dict[str, str] = {action: label for actions in CORE_AREAS.values() for action, label in actions.items()}


def all_actions() -> dict[str, str]:
    """Every app's audit actions (core's included), declared through the seam."""
    from core import registry

    return registry.discover().audit_actions


def label_for(action: str) -> str:
    return all_actions().get(action, action)


# Kinds of record core's own events name that are not one of the apps' models (or not theirs):
# offered in the audit history's object-type filter beside the models with admin pages.
EXTRA_OBJECT_TYPES: dict[str, str] = {
    "background task": "Background task",
    "django_q.schedule": "Scheduled task",
    "axes.accessattempt": "Sign-in lockout",
}
