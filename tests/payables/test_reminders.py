"""Reminders and escalation of approval steps that wait, in business days."""

import datetime as dt
import threading

import pytest
from django.core import mail
from django.db import connections
from django.urls import reverse
from django.utils import timezone

from core import audit, roles
from core.models import AuditEvent, Holiday
from payables import reminders, services
from payables.models import ApprovalPolicy, Payable
from tests.support import login_verified, make_user

pytestmark = pytest.mark.django_db
FRIDAY = dt.date(2026, 11, 27)


def _at(day: dt.date, hour: int = 10) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, 0)))


def _days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


@pytest.fixture
def waiting(people, make_payable):
    """A payable submitted on a Friday morning, waiting for its one step."""
    payable = make_payable()
    services.payable_submit(payable_id=payable.pk, actor=people.clerk)
    Payable.objects.filter(pk=payable.pk).update(submitted_at=_at(FRIDAY))
    return Payable.objects.get(pk=payable.pk)


@pytest.fixture
def manager(db):
    return make_user("mo", role=roles.MANAGER, first_name="Morgan", last_name="Manager")


def _run(now):
    return reminders.approvals_remind(actor=audit.system_user(), now=now)


def _escalations(payable):
    return AuditEvent.objects.filter(action="payable.approval_escalated", object_id=str(payable.pk))


def test_three_business_days_escalate_to_the_managers_and_the_payable_shows_it(client, people, waiting, manager):
    # Friday to Wednesday: Monday, Tuesday, Wednesday are three business days (the weekend skipped).
    _run(_at(FRIDAY + _days(4)))
    assert Payable.objects.get(pk=waiting.pk).escalated_at is None
    report = _run(_at(FRIDAY + _days(5)))
    assert len(report.escalated) == 1
    payable = Payable.objects.get(pk=waiting.pk)
    assert payable.escalated_at is not None
    event = _escalations(payable).get()
    assert "Morgan Manager" in event.reason and event.source == AuditEvent.Source.TASK
    # Once per step: the next run escalates nothing more.
    assert _run(_at(FRIDAY + _days(6))).escalated == []
    assert _escalations(payable).count() == 1
    login_verified(client, people.clerk)
    page = client.get(reverse("admin:payables_payable_change", args=[payable.pk])).content.decode()
    assert "this payable has waited too long for approval" in page
    listing = client.get(reverse("admin:payables_payable_changelist")).content.decode()
    assert "escalated" in listing


def test_holidays_do_not_count_towards_escalation(waiting, manager):
    Holiday.objects.create(date=FRIDAY + _days(3), name="Office closed")  # the Monday
    _run(_at(FRIDAY + _days(5)))  # Wednesday: only Tuesday and Wednesday counted
    assert Payable.objects.get(pk=waiting.pk).escalated_at is None
    _run(_at(FRIDAY + _days(6)))
    assert Payable.objects.get(pk=waiting.pk).escalated_at is not None


def test_escalation_goes_to_the_policys_contact_when_it_names_one(people, waiting, manager):
    contact = make_user("cfo", role=roles.APPROVER, first_name="Cass", last_name="Controller")
    policy = ApprovalPolicy.objects.create(description="All bills", priority=1, escalation_contact=contact)
    Payable.objects.filter(pk=waiting.pk).update(approval_policy=policy)
    payable = Payable.objects.get(pk=waiting.pk)
    assert reminders.escalation_contacts(payable) == [contact]
    Payable.objects.filter(pk=waiting.pk).update(approval_policy=None)
    assert reminders.escalation_contacts(Payable.objects.get(pk=waiting.pk)) == [manager]


def _reminder_emails():
    return [m for m in mail.outbox if m.subject.startswith("Reminder: ")]


def test_approvers_are_reminded_once_a_business_day(people, waiting, django_capture_on_commit_callbacks):
    monday = FRIDAY + _days(3)
    with django_capture_on_commit_callbacks(execute=True):
        _run(_at(FRIDAY, 15))  # the day it was submitted: too soon
        _run(_at(FRIDAY + _days(1)))  # Saturday: no reminders at weekends
    assert _reminder_emails() == []
    with django_capture_on_commit_callbacks(execute=True):
        _run(_at(monday, 7))  # before APPROVAL_REMINDER_HOUR (9): not yet
    assert _reminder_emails() == []
    with django_capture_on_commit_callbacks(execute=True):
        _run(_at(monday, 9))
        _run(_at(monday, 10))  # the same day again: nothing more
    first = _reminder_emails()
    assert sorted(m.to[0] for m in first) == sorted(
        u.email for u in (people.approver, people.approver2, people.approver3)
    )
    assert f"Reminder: {waiting.bill_number} from Acme Supplies ($250.00) waits for your approval" in first[0].subject
    with django_capture_on_commit_callbacks(execute=True):
        _run(_at(monday + _days(1)))
    assert len(_reminder_emails()) == 2 * len(first)
    # The next Saturday: it has waited five business days, but nobody is reminded at the weekend.
    with django_capture_on_commit_callbacks(execute=True):
        _run(_at(monday + _days(5)))
    assert len(_reminder_emails()) == 2 * len(first)


def test_the_escalation_email_goes_to_the_managers(waiting, manager, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _run(_at(FRIDAY + _days(5)))
    escalations = [m for m in mail.outbox if m.subject.startswith("Escalated: ")]
    assert [m.to for m in escalations] == [[manager.email]]
    assert "has waited 3 business days for approval (step 1)" in escalations[0].subject


@pytest.mark.django_db(transaction=True)
def test_a_reminder_run_twice_at_once_sends_one_email_each(people, waiting):
    barrier, errors = threading.Barrier(2), []

    def worker():
        try:
            barrier.wait()
            _run(_at(FRIDAY + _days(3)))
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    recipients = sorted(m.to[0] for m in _reminder_emails())
    assert recipients == sorted(u.email for u in (people.approver, people.approver2, people.approver3))
