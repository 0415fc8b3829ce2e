"""What people are told (their inbox), how they want to be told, and who covers for them while away.

Rows are written by notifications.services only: `notify` (an inbox row per person, written in the
caller's transaction; the email leaves after commit), the preference and absence services.
"""

import datetime as dt

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from core.people import full_name


def short_date(day: dt.date) -> str:
    """12 Dec (the year only when it is not this year's)."""
    text = f"{day.day} {day:%b}"
    return text if day.year == timezone.localdate().year else f"{text} {day.year}"


class Notification(models.Model):
    """One thing told to one person. The inbox always shows it; the email depends on their preference."""

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    event = models.CharField(max_length=80)  # a key declared with core.registry.notification_event
    title = models.CharField(max_length=300)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=500, blank=True)
    target_type = models.ForeignKey(ContentType, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    target_id = models.CharField(max_length=64, blank=True)
    # The absent person this was meant for; the recipient is their backup.
    on_behalf_of = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    on_behalf_until = models.DateField(null=True, blank=True)  # the absence's last day, as it was then
    # A recipient gets one notification per key, ever: a reminder run twice (or by two workers) tells once.
    dedupe_key = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    # Set by the email task before it sends (compare-and-set): a task delivered twice sends once.
    emailed_at = models.DateTimeField(null=True, blank=True)
    email_error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "dedupe_key"],
                condition=~Q(dedupe_key=""),
                name="one_notification_per_recipient_and_key",
            )
        ]
        indexes = [models.Index(fields=["recipient", "read_at"], name="notification_unread")]

    def __str__(self) -> str:
        return self.title

    @property
    def for_whom(self) -> str:
        """ "for Avery Approver (out until 12 Dec)", or "" when it was meant for the recipient."""
        if self.on_behalf_of is None:
            return ""
        name = full_name(self.on_behalf_of)
        until = f" (out until {short_date(self.on_behalf_until)})" if self.on_behalf_until else ""
        return f"for {name}{until}"


class NotificationPreference(models.Model):
    """Whether one event emails one person (no row: it does)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    event = models.CharField(max_length=80)
    email = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "event"], name="one_preference_per_user_and_event")]

    def __str__(self) -> str:
        return f"{self.user} {self.event}: {'email' if self.email else 'inbox only'}"


class Absence(models.Model):
    """A person away from `starts_on` to `ends_on` (both included); `backup` is told in their place."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="absences")
    starts_on = models.DateField()
    ends_on = models.DateField()
    backup = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="covering")
    note = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    canceled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-starts_on", "-id"]
        permissions = [("record_absence_for_others", "Can record an absence for someone else")]
        constraints = [
            models.CheckConstraint(condition=Q(ends_on__gte=F("starts_on")), name="absence_ends_after_it_starts"),
            models.CheckConstraint(condition=~Q(backup=F("user")), name="absence_backup_is_someone_else"),
        ]
        indexes = [models.Index(fields=["user", "ends_on"], name="absence_by_user")]

    def __str__(self) -> str:
        name = full_name(self.user)
        return f"{name} away {self.starts_on:%Y-%m-%d} to {self.ends_on:%Y-%m-%d}"
