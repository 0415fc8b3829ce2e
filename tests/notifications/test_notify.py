"""notify(): the inbox row at once, the email after commit, preferences, absence routing and dedupe."""

import datetime as dt
import threading

import pytest
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from core import registry
from notifications import emails, services
from notifications.models import Absence, Notification, NotificationPreference
from tests.support import make_user

pytestmark = pytest.mark.django_db

EVENT = "payable.waiting_for_approval"


@pytest.fixture
def avery():
    user = make_user("avery", first_name="Avery", last_name="Approver")
    return user


@pytest.fixture
def blake():
    return make_user("blake", first_name="Blake", last_name="Backup")


def _tell(recipients, *, target=None, dedupe_key="", title="INV-104 from Acme ($250.00) waits for your approval"):
    return services.notify(
        event=EVENT,
        recipients=recipients,
        target=target,
        title=title,
        body="Acme Supplies billed $250.00 for widgets.",
        dedupe_key=dedupe_key,
    )


def test_notify_writes_the_inbox_row_at_once_and_emails_after_commit(
    avery, django_capture_on_commit_callbacks, settings
):
    settings.SITE_URL = "https://ledger.example.com"
    with django_capture_on_commit_callbacks(execute=True):
        rows = _tell([avery], target=avery)
        assert Notification.objects.filter(recipient=avery).count() == 1
        assert mail.outbox == []  # nothing leaves before the change commits
    assert [row.recipient for row in rows] == [avery]
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == ["avery@example.com"]
    assert email.subject == "INV-104 from Acme ($250.00) waits for your approval"
    assert "Hello Avery," in email.body
    assert "Acme Supplies billed $250.00 for widgets." in email.body
    # An absolute link to the target's page, and to the person's own pages.
    assert f"https://ledger.example.com{reverse('admin:auth_user_change', args=[avery.pk])}" in email.body
    assert "https://ledger.example.com/admin/notifications/notification/preferences/" in email.body
    rows[0].refresh_from_db()
    assert rows[0].emailed_at is not None


def test_a_change_that_rolls_back_tells_nobody_by_email(avery, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                _tell([avery])
                raise RuntimeError("the caller's change failed")
        except RuntimeError:
            pass
    assert mail.outbox == []
    assert not Notification.objects.exists()


def test_duplicate_and_inactive_recipients_are_dropped(avery, blake, django_capture_on_commit_callbacks):
    blake.is_active = False
    blake.save()
    with django_capture_on_commit_callbacks(execute=True):
        rows = _tell([avery, avery, blake])
    assert [row.recipient for row in rows] == [avery]
    assert [m.to for m in mail.outbox] == [["avery@example.com"]]


def test_an_event_turned_off_shows_in_the_inbox_but_sends_no_email(avery, django_capture_on_commit_callbacks):
    services.preferences_set(actor=avery, emails={EVENT: False})
    with django_capture_on_commit_callbacks(execute=True):
        _tell([avery])
    assert Notification.objects.filter(recipient=avery, event=EVENT).count() == 1
    assert mail.outbox == []


def test_someone_away_today_is_replaced_by_their_backup(avery, blake, django_capture_on_commit_callbacks):
    today = timezone.localdate()
    until = today + dt.timedelta(days=3)
    services.absence_record(actor=avery, user=avery, starts_on=today, ends_on=until, backup=blake, note="Holiday")
    with django_capture_on_commit_callbacks(execute=True):
        rows = _tell([avery])
    assert [(row.recipient, row.on_behalf_of) for row in rows] == [(blake, avery)]
    assert rows[0].for_whom == f"for Avery Approver (out until {until.day} {until:%b}" + (
        ")" if until.year == today.year else f" {until.year})"
    )
    assert [m.to for m in mail.outbox] == [["blake@example.com"]]
    assert mail.outbox[0].subject.startswith("[for Avery Approver] ")
    assert "who named you as their backup" in mail.outbox[0].body


def test_a_backup_who_is_a_recipient_too_is_told_once_saying_whom_they_cover(
    avery, blake, django_capture_on_commit_callbacks
):
    today = timezone.localdate()
    services.absence_record(actor=avery, user=avery, starts_on=today, ends_on=today, backup=blake)
    with django_capture_on_commit_callbacks(execute=True):
        rows = _tell([avery, blake])
    assert [(row.recipient, row.on_behalf_of) for row in rows] == [(blake, avery)]
    assert [m.to for m in mail.outbox] == [["blake@example.com"]]
    assert mail.outbox[0].subject.startswith("[for Avery Approver] ")


def test_an_absence_that_has_not_started_or_has_ended_early_routes_nothing(avery, blake):
    today = timezone.localdate()
    services.absence_record(
        actor=avery,
        user=avery,
        starts_on=today + dt.timedelta(days=2),
        ends_on=today + dt.timedelta(days=4),
        backup=blake,
    )
    ended = services.absence_record(actor=avery, user=avery, starts_on=today, ends_on=today, backup=blake)
    services.absence_cancel(actor=avery, absence_id=ended.pk, reason="back early")
    rows = _tell([avery])
    assert [(row.recipient, row.on_behalf_of) for row in rows] == [(avery, None)]


def test_a_backup_who_is_away_too_passes_it_on_without_going_round_in_circles(avery, blake):
    casey = make_user("casey", first_name="Casey", last_name="Cover")
    today = timezone.localdate()
    services.absence_record(actor=avery, user=avery, starts_on=today, ends_on=today, backup=blake)
    services.absence_record(actor=blake, user=blake, starts_on=today, ends_on=today, backup=casey)
    services.absence_record(actor=casey, user=casey, starts_on=today, ends_on=today, backup=avery)
    rows = _tell([avery])
    # Avery -> Blake -> Casey -> (Avery: already seen): Casey is told, for Avery.
    assert [(row.recipient, row.on_behalf_of) for row in rows] == [(casey, avery)]


def test_the_same_dedupe_key_tells_each_person_once(avery, blake, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = _tell([avery], dedupe_key="reminder:payable:7:2026-12-07")
        again = _tell([avery, blake], dedupe_key="reminder:payable:7:2026-12-07")
    assert [row.recipient for row in first] == [avery]
    assert [row.recipient for row in again] == [blake]
    assert sorted(m.to[0] for m in mail.outbox) == ["avery@example.com", "blake@example.com"]


def test_an_event_no_app_declares_is_refused(avery):
    with pytest.raises(LookupError, match="payable.teleported"):
        services.notify(event="payable.teleported", recipients=[avery], target=None, title="?")


def test_the_seam_refuses_an_event_declared_twice():
    with pytest.raises(ImproperlyConfigured, match=EVENT):
        registry.notification_event("elsewhere", EVENT, "Again")


def test_every_event_is_listed_with_its_label():
    events = {event.key: event.label for event in registry.notification_events()}
    assert events[EVENT] == "A payable waits for your approval"
    assert "payout_run.finished" in events and "vendor_bank_account.waiting_for_verification" in events


def test_the_email_task_run_twice_sends_once(avery):
    row = _tell([avery])[0]
    assert emails.send(notification_id=row.pk) == "sent"
    assert emails.send(notification_id=row.pk) == "already sent (or gone)"
    assert len(mail.outbox) == 1


def test_a_mail_server_that_refuses_is_kept_on_the_row_and_never_raised(avery, settings):
    settings.EMAIL_BACKEND = "tests.notifications.failing_mail.RefusingBackend"
    row = _tell([avery])[0]
    assert emails.send(notification_id=row.pk).startswith("failed")
    row.refresh_from_db()
    assert row.emailed_at is None
    assert "relay refused" in row.email_error


def test_preferences_changes_are_audited(avery):
    from core.models import AuditEvent

    services.preferences_set(actor=avery, emails={EVENT: False, "payable.approved": True})
    event = AuditEvent.objects.get(action="notification_preferences.changed")
    assert event.actor == avery
    assert event.changes == {"A payable waits for your approval": {"before": "email", "after": "inbox only"}}
    assert NotificationPreference.objects.get(user=avery, event=EVENT).email is False


@pytest.mark.django_db(transaction=True)
def test_two_workers_with_the_same_key_at_once_send_one_email():
    """Two threads (two database connections) notify the same person with the same key at once."""
    person = make_user("dana", first_name="Dana")
    barrier = threading.Barrier(2)
    results: list[int] = []
    errors: list[BaseException] = []

    def worker():
        try:
            barrier.wait(timeout=10)
            with transaction.atomic():
                results.append(len(_tell([person], dedupe_key="reminder:payable:9:2026-12-07")))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert sorted(results) == [0, 1]
    assert Notification.objects.filter(recipient=person).count() == 1
    assert len(mail.outbox) == 1


def test_absences_stored_for_the_backup_route(avery, blake):
    today = timezone.localdate()
    absence = services.absence_record(actor=avery, user=avery, starts_on=today, ends_on=today, backup=blake)
    assert Absence.objects.get(pk=absence.pk).backup == blake
