"""A person's own pages over HTTP: My tasks (their notifications, read marks), email preferences, absences.
Each sees and changes only their own; an Administrator records an absence for anyone."""

import datetime as dt

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from core import roles
from core.errors import PermissionRefused
from core.models import AuditEvent
from notifications import services
from notifications.models import Absence, Notification, NotificationPreference
from tests.support import login_verified, make_user

pytestmark = pytest.mark.django_db

INBOX = "admin:notifications_notification_inbox"
PREFERENCES = "admin:notifications_notification_preferences"
ABSENCES = "admin:notifications_notification_absences"


@pytest.fixture
def avery(db):
    return make_user("avery", role=roles.APPROVER, first_name="Avery", last_name="Approver")


@pytest.fixture
def blake(db):
    return make_user("blake", role=roles.APPROVER, first_name="Blake", last_name="Backup")


def _tell(user, title, **extra):
    return services.notify(event="payable.approved", recipients=[user], target=None, title=title, **extra)[0]


def test_my_notifications_show_newest_first_and_oldest_first_on_request(client, avery):
    old = _tell(avery, "INV-1 was approved")
    Notification.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=2))
    _tell(avery, "INV-2 was approved")
    login_verified(client, avery)
    page = client.get(reverse(INBOX)).content.decode()
    assert page.index("INV-2 was approved") < page.index("INV-1 was approved")
    page = client.get(reverse(INBOX) + "?order=oldest").content.decode()
    assert page.index("INV-1 was approved") < page.index("INV-2 was approved")


def test_nobody_sees_someone_elses_notifications(client, avery, blake):
    _tell(avery, "INV-7 was approved")
    login_verified(client, blake)
    assert "INV-7" not in client.get(reverse(INBOX)).content.decode()


def test_marking_read_changes_my_own_and_refuses_someone_elses(client, avery, blake):
    mine = _tell(blake, "INV-8 was approved")
    theirs = _tell(avery, "INV-9 was approved")
    login_verified(client, blake)
    response = client.post(reverse(INBOX), {"notification": [str(theirs.pk)]}, follow=True)
    assert "You can only mark your own notifications as read." in response.content.decode()
    theirs.refresh_from_db()
    assert theirs.read_at is None
    client.post(reverse(INBOX), {"notification": [str(mine.pk)]})
    mine.refresh_from_db()
    assert mine.read_at is not None


def test_mark_all_read_marks_only_mine(client, avery, blake):
    _tell(blake, "INV-10 was approved")
    theirs = _tell(avery, "INV-11 was approved")
    login_verified(client, blake)
    client.post(reverse(INBOX), {"all": "yes"})
    assert not Notification.objects.filter(recipient=blake, read_at=None).exists()
    assert Notification.objects.get(pk=theirs.pk).read_at is None


def test_the_preferences_page_lists_every_event_and_saves_my_choice_audited(
    client, avery, django_capture_on_commit_callbacks
):
    login_verified(client, avery)
    page = client.get(reverse(PREFERENCES)).content.decode()
    for label in (
        "A payable waits for your approval",
        "A payable is approved and ready to pay",
        "A vendor bank account waits for a second person&#x27;s verification",
        "A payout run you started finished",
        "A payee import you uploaded finished",
    ):
        assert label in page
    # Every box ticked but one: "A payable you created was approved" off.
    from core import registry

    data = {f"email-{e.key}": "on" for e in registry.notification_events() if e.key != "payable.approved"}
    client.post(reverse(PREFERENCES), data)
    assert NotificationPreference.objects.get(user=avery, event="payable.approved").email is False
    event = AuditEvent.objects.get(action="notification_preferences.changed")
    assert event.actor == avery
    assert event.changes == {"A payable you created was approved": {"before": "email", "after": "inbox only"}}
    with django_capture_on_commit_callbacks(execute=True):
        _tell(avery, "INV-12 was approved")
    assert mail.outbox == []


def test_i_record_my_own_absence_with_a_backup_and_it_is_audited(client, avery, blake):
    login_verified(client, avery)
    today = timezone.localdate()
    response = client.post(
        reverse(ABSENCES),
        {
            "starts_on": today.isoformat(),
            "ends_on": (today + dt.timedelta(days=5)).isoformat(),
            "backup": blake.pk,
            "note": "Conference",
        },
        follow=True,
    )
    assert "Blake Backup is told in their place" in response.content.decode()
    absence = Absence.objects.get(user=avery)
    assert (absence.backup, absence.created_by) == (blake, avery)
    event = AuditEvent.objects.get(action="absence.recorded")
    assert event.actor == avery and event.changes["backup"]["after"] == "Blake Backup"
    # Their backup's My tasks says whom they cover.
    client.force_login(blake)
    login_verified(client, blake)
    assert "You cover for Avery Approver (out until" in client.get(reverse(INBOX)).content.decode()


def test_an_absence_form_names_the_wrong_field(client, avery):
    login_verified(client, avery)
    today = timezone.localdate()
    response = client.post(
        reverse(ABSENCES),
        {"starts_on": today.isoformat(), "ends_on": (today - dt.timedelta(days=1)).isoformat(), "backup": avery.pk},
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "The last day away must be on or after the first day." in page
    assert not Absence.objects.exists()
    response = client.post(
        reverse(ABSENCES), {"starts_on": today.isoformat(), "ends_on": today.isoformat(), "backup": avery.pk}
    )
    assert "Name someone else as the backup." in response.content.decode()
    assert not Absence.objects.exists()


def test_a_manager_may_not_record_an_absence_for_someone_else(avery):
    manager = make_user("manny", role=roles.MANAGER)
    today = timezone.localdate()
    with pytest.raises(PermissionRefused):
        services.absence_record(actor=manager, user=avery, starts_on=today, ends_on=today, backup=manager)
    assert not Absence.objects.exists()


def test_a_manager_posting_someone_else_as_the_absent_person_records_only_their_own(client, avery, blake):
    manager = make_user("manny", role=roles.MANAGER)
    login_verified(client, manager)
    today = timezone.localdate()
    client.post(
        reverse(ABSENCES),
        {"person": avery.pk, "starts_on": today.isoformat(), "ends_on": today.isoformat(), "backup": blake.pk},
    )
    assert list(Absence.objects.values_list("user__username", flat=True)) == ["manny"]


def test_an_administrator_records_an_absence_for_someone_else(client, avery, blake):
    admin_user = make_user("ada", role=roles.ADMINISTRATOR)
    login_verified(client, admin_user)
    today = timezone.localdate()
    client.post(
        reverse(ABSENCES),
        {"person": avery.pk, "starts_on": today.isoformat(), "ends_on": today.isoformat(), "backup": blake.pk},
    )
    absence = Absence.objects.get(user=avery)
    assert absence.created_by == admin_user
    assert AuditEvent.objects.get(action="absence.recorded").actor == admin_user


def test_ending_someone_elses_absence_is_refused_but_my_own_ends(client, avery, blake):
    today = timezone.localdate()
    theirs = services.absence_record(actor=avery, user=avery, starts_on=today, ends_on=today, backup=blake)
    mine = services.absence_record(actor=blake, user=blake, starts_on=today, ends_on=today, backup=avery)
    login_verified(client, blake)
    response = client.post(reverse("admin:notifications_notification_absence_end", args=[theirs.pk]))
    assert response.status_code == 403
    assert Absence.objects.get(pk=theirs.pk).canceled_at is None
    client.post(reverse("admin:notifications_notification_absence_end", args=[mine.pk]))
    assert Absence.objects.get(pk=mine.pk).canceled_at is not None
    assert AuditEvent.objects.get(action="absence.canceled").actor == blake


def test_the_standard_notification_pages_are_closed_even_to_a_manager(client, avery):
    row = _tell(avery, "INV-13 was approved")
    manager = make_user("manny", role=roles.MANAGER)
    login_verified(client, manager)
    assert client.get(reverse("admin:notifications_notification_changelist")).status_code == 403
    assert client.get(reverse("admin:notifications_notification_change", args=[row.pk])).status_code == 403


def test_the_header_count_costs_one_query_a_page_once_counted_and_nothing_the_second_time_asked(
    avery, rf, django_assert_max_num_queries
):
    from notifications import selectors
    from notifications.context_processors import my_tasks

    _tell(avery, "INV-14 was approved")
    selectors.what_waits(avery)  # My tasks (or the first page) counts what waits; the next minute reuses it
    request = rf.get("/admin/")
    request.user = avery
    with django_assert_max_num_queries(1):
        context = my_tasks(request)
        assert context["my_tasks"]["unread"] == "1"
        assert context["my_tasks"]["waiting"] == 0
    with django_assert_max_num_queries(0):
        assert my_tasks(request)["my_tasks"]["unread"] == "1"  # the same request asks again: remembered


def test_being_notified_shows_in_the_header_at_once(client, avery):
    from notifications import selectors

    selectors.what_waits(avery)
    login_verified(client, avery)
    assert "My tasks (0)" in client.get(reverse("admin:index")).content.decode()
    _tell(avery, "INV-15 was approved")
    assert "1 new" in client.get(reverse("admin:index")).content.decode()


def test_the_header_never_counts_more_than_a_hundred_unread_and_says_so(client, avery):
    from notifications import selectors

    row = _tell(avery, "INV-16 was approved")
    Notification.objects.bulk_create(
        [
            Notification(recipient=avery, event=row.event, title=f"INV-{i} was approved", url=row.url)
            for i in range(selectors.UNREAD_SHOWN_UP_TO + 5)
        ]
    )
    login_verified(client, avery)
    with CaptureQueriesContext(connection) as queries:
        page = client.get(reverse("admin:index")).content.decode()

    assert "100+ new" in page
    sqls = [q["sql"] for q in queries.captured_queries]
    counts = [sql for sql in sqls if "notifications_notification" in sql and "COUNT(" in sql]
    assert counts and all("LIMIT 101" in sql for sql in counts), counts


def test_a_count_that_fails_shows_no_number_and_the_page_still_opens(client, avery, monkeypatch, caplog):
    """Never a reassuring "My tasks (0)" when the count could not be made: no number, and the failure logged."""
    from notifications import selectors

    def broken(user, **kwargs):
        raise RuntimeError("an inbox source failed")

    monkeypatch.setattr(selectors, "what_waits", broken)
    login_verified(client, avery)
    response = client.get(reverse("admin:index"))
    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="my-tasks-link">My tasks</a>' in page and "My tasks (0)" not in page
    assert any("counting what waits" in record.getMessage() and record.exc_info for record in caplog.records)
