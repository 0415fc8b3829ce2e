"""The admin home page's panels: each app declares its own (registry.dashboard_panel); core's is security.

The admin site's index asks `panels_for(request)`; a panel is shown to whoever holds its permission,
built by its app, and rendered with its own template above the list of models.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.module_loading import import_string

from core import registry
from core.audit_actions import label_for
from core.models import AuditEvent

SECURITY_DAYS = 30
SECURITY_SHOWN = 10
# Who may do what: accounts, roles, second factors, lockouts, the background tasks that run code.
SECURITY_ACTIONS = (
    "user.created",
    "user.updated",
    "user.deleted",
    "group.created",
    "group.updated",
    "group.deleted",
    "user.two_factor_reset",
    "user.lockout_reset",
    "schedule.updated",
    "task.resubmitted",
    "task.refused",
)
# A change to one of these on an account is a change of what that person may do.
ACCESS_FIELDS = {
    "groups": "roles",
    "is_superuser": "superuser",
    "user_permissions": "extra permissions",
    "is_active": "active",
    "is_staff": "may sign in to the back office",
}


def panels_for(request) -> list[dict[str, Any]]:
    """The panels this person may see, in order, each rendered to HTML (a panel with nothing to say is left out)."""
    shown = []
    for panel in registry.dashboard_panels():
        if not request.user.has_perm(panel.permission):
            continue
        context = import_string(panel.build)(request)
        if context is None:
            continue
        html = render_to_string(panel.template, {"panel": panel, **context}, request=request)
        shown.append({"name": panel.name, "title": panel.title, "html": html})
    return shown


def security_changes(request) -> dict[str, Any]:
    """The newest security events of the last 30 days: role changes first among equals, always in words."""
    since = timezone.now() - dt.timedelta(days=SECURITY_DAYS)
    events = (
        AuditEvent.objects.filter(action__in=SECURITY_ACTIONS, occurred_at__gte=since)
        .select_related("actor")
        .order_by("-occurred_at", "-id")
    )
    rows = []
    for event in events[:SECURITY_SHOWN]:
        access = _access_changes(event)
        rows.append(
            {
                "when": event.occurred_at,
                "who": event.actor_label or (event.actor.get_username() if event.actor else "someone"),
                "what": label_for(event.action),
                "whom": event.object_repr,
                "access": access,
                "summary": "; ".join(access) if access else _other_changes(event),
                "url": reverse("admin:core_auditevent_change", args=[event.pk]),
            }
        )
    return {
        "rows": rows,
        "days": SECURITY_DAYS,
        "role_changes": sum(1 for row in rows if row["access"]),
        "history_url": reverse("admin:core_auditevent_changelist") + "?object_type=auth.user",
    }


def _access_changes(event: AuditEvent) -> list[str]:
    if event.action != "user.updated":
        return []
    said = []
    for field, word in ACCESS_FIELDS.items():
        change = (event.changes or {}).get(field)
        if isinstance(change, dict) and set(change) <= {"before", "after"}:
            said.append(f"{word}: {_words(change.get('before'))} → {_words(change.get('after'))}")
    return said


def _other_changes(event: AuditEvent) -> str:
    fields = [name.replace("_", " ") for name in (event.changes or {}) if name != "password"]
    if "password" in (event.changes or {}):
        fields.append("password")
    return ", ".join(fields[:5])


def _words(value: Any) -> str:
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if value in (None, "", []):
        return "none"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)
