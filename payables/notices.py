"""What payables' scheduled payments and approval reminders tell people (notifications.services.notify).

The events are declared in payables/seam.py; the notifications app delivers (inbox row at once,
email after commit, a recipient away replaced by their backup, one notification per dedupe key).
"""

from collections.abc import Iterable

from django.contrib.auth.models import User
from django.db import models

from payables.seam import APPROVAL_ESCALATED, APPROVAL_REMINDER, SCHEDULED_PAYMENT

__all__ = ["APPROVAL_ESCALATED", "APPROVAL_REMINDER", "SCHEDULED_PAYMENT", "tell"]


def tell(
    *,
    event: str,
    recipients: Iterable[User],
    target: models.Model,
    title: str,
    body: str = "",
    dedupe_key: str = "",
) -> list:
    """Notify `recipients`; the rows written (none for a person who already has `dedupe_key`)."""
    from notifications.services import notify

    return notify(event=event, recipients=recipients, target=target, title=title, body=body, dedupe_key=dedupe_key)
