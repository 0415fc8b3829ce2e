"""What payables tell people (notifications.services.notify, the notify contract).

One wrapper so that the payables code names its events and words in one way; the
notifications app delivers (inbox row at once, email after commit, dedupe by key).
"""

import logging
from collections.abc import Iterable

from django.contrib.auth.models import User
from django.db import models

logger = logging.getLogger(__name__)

SCHEDULED_PAYMENT = "payable.scheduled_payment"
APPROVAL_REMINDER = "payable.approval_reminder"
APPROVAL_ESCALATED = "payable.approval_escalated"


def tell(
    *,
    event: str,
    recipients: Iterable[User],
    target: models.Model,
    title: str,
    body: str = "",
    dedupe_key: str = "",
) -> list:
    """Notify `recipients` (notifications.services.notify); never raises for a delivery problem."""
    try:
        from notifications.services import notify
    except ImportError:  # the notifications app is not installed in this build
        logger.warning("notifications app missing: %s not sent (%s)", event, title)
        return []
    return list(
        notify(event=event, recipients=list(recipients), target=target, title=title, body=body, dedupe_key=dedupe_key)
    )
