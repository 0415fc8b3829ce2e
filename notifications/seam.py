"""What the notifications app brings to the shared machinery (core/registry.py).

Other apps declare their own events (`registry.notification_event`) and what waits for people
(`registry.inbox_source`); this app delivers the first and lists the second on "My tasks".
"""

from core import registry, roles

APP = "notifications"

# Every person records their own absence and preferences through their own pages (no permission
# needed); recording an absence for someone else is an Administrator's.
registry.role_permissions(APP, {roles.ADMINISTRATOR: ("notifications.record_absence_for_others",)})
registry.audit_actions(
    APP,
    {
        "notification_preferences.changed": "Email preferences changed",
        "absence.recorded": "Absence recorded (a backup covers)",
        "absence.canceled": "Absence ended early",
    },
)
# One email per notification, sent after the change that caused it committed.
registry.task(APP, "notifications.tasks.send_notification_email")
