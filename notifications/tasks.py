"""django-q2 entry points for notifications. Safe to run twice: an email is sent once."""

from notifications import emails


def send_notification_email(notification_id: int) -> str:
    return emails.send(notification_id=notification_id)
