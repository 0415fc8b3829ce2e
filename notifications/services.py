"""Telling people: `notify` (inbox row now, email after commit), preferences, and absences with a backup.

`notify` is called by the apps that emit events (payables, vendors, payouts...), inside their own
transaction or after it. It writes each person's inbox row at once, in a savepoint of the caller's
transaction, and enqueues each email with `transaction.on_commit`: a change that rolls back tells
nobody. A delivery problem never reaches the caller (it is logged, and kept on the row).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping

from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.db import DatabaseError, IntegrityError, models, transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django_q.tasks import async_task

from core import audit, registry
from core.errors import PermissionRefused
from core.people import full_name
from core.permissions import require_perm
from notifications import selectors
from notifications.errors import AbsenceInvalid
from notifications.models import Absence, Notification, NotificationPreference

logger = logging.getLogger(__name__)

SEND_EMAIL_TASK = "notifications.tasks.send_notification_email"


def admin_url(target: models.Model | None) -> str:
    """The admin change page of `target` ("" when it has none)."""
    if target is None or target.pk is None:
        return ""
    opts = target._meta
    try:
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[target.pk])
    except NoReverseMatch:
        return ""


def notify(
    *,
    event: str,
    recipients: Iterable[User],
    target: models.Model | None,
    title: str,
    body: str = "",
    url: str = "",
    dedupe_key: str = "",
) -> list[Notification]:
    """Tell `recipients` about `event`: an inbox row each (now), an email each (after commit) unless
    they turned that event's email off. Someone away today is replaced by their backup (the row keeps
    `on_behalf_of`). With `dedupe_key`, a person who already has a notification with that key gets
    nothing (a unique constraint, each insert in its own savepoint: two workers at once tell once).

    Returns the rows written. An event no app declared is a programming error and raises LookupError.
    """
    if registry.notification_event_named(event) is None:
        raise LookupError(f"No app declares the notification event {event!r} (core.registry.notification_event).")
    created: list[Notification] = []
    try:
        # A savepoint: whatever goes wrong here leaves the caller's transaction usable.
        with transaction.atomic():
            created = _write(event, recipients, target, title, body, url or admin_url(target), dedupe_key)
    except DatabaseError:
        logger.exception("notifying about %s: the inbox rows were not written", event)
        return []
    wanted = selectors.emails_wanted([row.recipient_id for row in created if row.recipient.email], event)
    for row in created:
        if row.recipient_id in wanted:
            transaction.on_commit(lambda pk=row.pk: _enqueue_email(pk))
    selectors.forget_waiting_count(row.recipient_id for row in created)
    return created


def _write(
    event: str,
    recipients: Iterable[User],
    target: models.Model | None,
    title: str,
    body: str,
    url: str,
    dedupe_key: str,
) -> list[Notification]:
    target_type = ContentType.objects.get_for_model(target) if target is not None else None
    target_id = str(target.pk) if target is not None else ""
    created = []
    for delivery in selectors.route(recipients):
        key = dedupe_key
        if key and delivery.on_behalf_of is not None:
            # Told for a colleague (route() drops it when they are told as themselves too): a key of its own,
            # so a later notice to them directly, once the colleague is back, is not taken for this one.
            key = f"{key[:180]}|for:{delivery.on_behalf_of.pk}"
        row = Notification(
            recipient=delivery.recipient,
            event=event,
            title=title[:300],
            body=body,
            url=url[:500],
            target_type=target_type,
            target_id=target_id,
            on_behalf_of=delivery.on_behalf_of,
            on_behalf_until=delivery.until,
            dedupe_key=key[:200],
        )
        if dedupe_key:
            try:
                with transaction.atomic():
                    row.save()
            except IntegrityError:
                continue  # they were told already (maybe by another worker, just now)
        else:
            row.save()
        created.append(row)
    return created


def _enqueue_email(notification_id: int) -> None:
    try:
        async_task(SEND_EMAIL_TASK, notification_id, task_name=f"notification-email-{notification_id}")
    except Exception:  # a broker problem must not break the request that already committed
        logger.exception("queueing the email of notification %s", notification_id)


# --- reading ------------------------------------------------------------------------------------------


def notifications_mark_read(*, actor: User, notification_ids: Iterable[int]) -> int:
    """Mark the actor's own notifications read. Someone else's are refused (nothing is changed).

    A personal reading mark, like an email client's: not an audited change.
    """
    ids = {int(pk) for pk in notification_ids}
    if not ids:
        return 0
    owned = set(Notification.objects.filter(pk__in=ids, recipient=actor).values_list("pk", flat=True))
    if owned != ids:
        raise PermissionRefused("You can only mark your own notifications as read.")
    return Notification.objects.filter(pk__in=ids, read_at=None).update(read_at=timezone.now())


# --- preferences ----------------------------------------------------------------------------------------


@transaction.atomic
def preferences_set(*, actor: User, emails: Mapping[str, bool]) -> dict[str, bool]:
    """Set which events email the actor ({event key: yes/no}); unknown events are refused. Audited."""
    known = {event.key for event in registry.notification_events()}
    unknown = sorted(set(emails) - known)
    if unknown:
        raise LookupError(f"Unknown notification events: {', '.join(unknown)}")
    current = {event.key: on for event, on in selectors.preferences_of(actor)}
    changed = {key: wanted for key, wanted in emails.items() if current.get(key, True) != wanted}
    for key, wanted in changed.items():
        NotificationPreference.objects.update_or_create(user=actor, event=key, defaults={"email": wanted})
    if changed:
        labels = {event.key: event.label for event in registry.notification_events()}
        audit.record(
            actor=actor,
            action="notification_preferences.changed",
            target=actor,
            object_repr=f"Email preferences of {full_name(actor)}",
            changes={
                labels[key]: {
                    "before": "email" if not wanted else "inbox only",
                    "after": "email" if wanted else "inbox only",
                }
                for key, wanted in changed.items()
            },
        )
    return changed


# --- absences ---------------------------------------------------------------------------------------------


def _absence_snapshot(absence: Absence) -> dict:
    return {
        "person": full_name(absence.user),
        "starts_on": absence.starts_on,
        "ends_on": absence.ends_on,
        "backup": full_name(absence.backup),
        "note": absence.note,
    }


@transaction.atomic
def absence_record(
    *,
    actor: User,
    user: User,
    starts_on: dt.date,
    ends_on: dt.date,
    backup: User,
    note: str = "",
) -> Absence:
    """Record that `user` is away from `starts_on` to `ends_on` and `backup` is told in their place.

    Anyone records their own; only those who may record absences for others (Administrators)
    record someone else's. Audited on the absent person's record.
    """
    if user.pk != actor.pk:
        require_perm(actor, "notifications.record_absence_for_others", "record an absence for someone else")
    elif not actor.is_active:
        raise PermissionRefused("Your account is deactivated, so you may not record an absence.")
    if ends_on < starts_on:
        raise AbsenceInvalid("The last day away is before the first day.", field="ends_on")
    if ends_on < timezone.localdate():
        raise AbsenceInvalid("That absence is already over: the last day away is in the past.", field="ends_on")
    if backup.pk == user.pk:
        raise AbsenceInvalid("Name someone else as the backup.", field="backup")
    if not backup.is_active or not backup.is_staff:
        raise AbsenceInvalid(f"{full_name(backup)} cannot sign in, so cannot be the backup.", field="backup")
    absence = Absence.objects.create(
        user=user, starts_on=starts_on, ends_on=ends_on, backup=backup, note=note.strip(), created_by=actor
    )
    audit.record(
        actor=actor,
        action="absence.recorded",
        target=absence,
        before={},
        after=_absence_snapshot(absence),
        reason=note.strip(),
    )
    selectors.forget_waiting_count([backup.pk])
    return absence


@transaction.atomic
def absence_cancel(*, actor: User, absence_id: int, reason: str = "") -> Absence:
    """End an absence early (the person is back, or it was recorded by mistake). Audited."""
    absence = Absence.objects.select_for_update().select_related("user", "backup").get(pk=absence_id)
    if absence.user_id != actor.pk:
        require_perm(actor, "notifications.record_absence_for_others", "change someone else's absence")
    if absence.canceled_at is not None:
        return absence
    absence.canceled_at = timezone.now()
    absence.save(update_fields=["canceled_at"])
    audit.record(
        actor=actor,
        action="absence.canceled",
        target=absence,
        before={"canceled": False},
        after={"canceled": True},
        reason=reason.strip(),
    )
    selectors.forget_waiting_count([absence.backup_id])
    return absence
