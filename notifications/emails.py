"""One notification's email: plain words for an accountant, with a link to the page.

The task claims the row (`emailed_at`, compare-and-set) before it sends, so a task the queue delivers
twice sends one email; a failed send gives the claim back and keeps the reason on the row.
"""

import logging

from django.conf import settings
from django.core.mail import EmailMessage
from django.urls import reverse
from django.utils import timezone

from core.people import full_name
from notifications.models import Notification

logger = logging.getLogger(__name__)


def absolute(url: str) -> str:
    if not url or url.startswith(("http://", "https://")):
        return url
    return f"{settings.SITE_URL}{url if url.startswith('/') else '/' + url}"


def message_for(notification: Notification) -> EmailMessage:
    recipient = notification.recipient
    lines = [f"Hello {recipient.first_name or recipient.get_username()},", ""]
    if notification.on_behalf_of is not None:
        lines += [
            f"You receive this {notification.for_whom}, who named you as their backup.",
            "",
        ]
    lines += [notification.title]
    if notification.body:
        lines += ["", notification.body]
    if notification.url:
        lines += ["", f"Open it in Ledgerline: {absolute(notification.url)}"]
    lines += [
        "",
        f"Everything that waits for you: {absolute(reverse('admin:notifications_notification_inbox'))}",
        f"Choose which events email you: {absolute(reverse('admin:notifications_notification_preferences'))}",
    ]
    subject = notification.title
    if notification.on_behalf_of is not None:
        subject = f"[for {full_name(notification.on_behalf_of)}] {subject}"
    return EmailMessage(
        subject=subject[:250], body="\n".join(lines), from_email=settings.DEFAULT_FROM_EMAIL, to=[recipient.email]
    )


def send(*, notification_id: int) -> str:
    claimed = Notification.objects.filter(pk=notification_id, emailed_at=None).update(emailed_at=timezone.now())
    if not claimed:
        return "already sent (or gone)"
    notification = Notification.objects.select_related("recipient", "on_behalf_of").get(pk=notification_id)
    if not notification.recipient.email or not notification.recipient.is_active:
        return "no address"
    try:
        message_for(notification).send(fail_silently=False)
    except Exception as exc:  # SMTP refused, DNS, a full disk: logged and kept on the row, never raised
        logger.warning("emailing notification %s failed: %s", notification_id, exc)
        Notification.objects.filter(pk=notification_id).update(emailed_at=None, email_error=str(exc)[:300])
        return f"failed: {exc}"
    Notification.objects.filter(pk=notification_id).update(email_error="")
    return "sent"
