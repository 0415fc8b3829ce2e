"""Pay on the day: scheduling (step-up, refusals), the morning run (once, as the payer), killed workers."""

import datetime as dt
import threading

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.db import connections
from django.urls import reverse
from django.utils import timezone

from core import audit, roles
from core.errors import DomainError, PermissionRefused
from core.models import AuditEvent
from core.two_factor import SESSION_OTP_VERIFIED_AT
from dots.client import DotsClient
from payables import payments, reconcile, scheduled, services
from payables.errors import ApproverMayNotPay, InvalidTransition, ScheduleRefused, SegregationOfDutiesViolation
from payables.models import Payable
from tests.support import add_totp_device, current_code, login_verified

pytestmark = pytest.mark.django_db
S = Payable.Status
PAY_PATH = "/v2/accounts-payable/payables/*/pay"


def _payments_in_dots(emulator, payable) -> int:
    dots = DotsClient(emulator.base_url, emulator.client_id, emulator.api_key)
    return len(dots.retrieve_payable(payable_id=payable.dots_id).transfer_history)


def _morning(day: dt.date, hour: int = 7) -> dt.datetime:
    """That day at `hour` o'clock, company time."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, 0)))


def _move_clocks_to(emulator, day: dt.date) -> dt.datetime:
    """The emulator's clock and ours (passed as `now`) on the morning of `day`."""
    now = _morning(day)
    emulator.control("clock", {"offset_seconds": int((now - timezone.now()).total_seconds())})
    return now


@pytest.fixture
def reset_clock(dots):
    yield
    dots.control("clock", {"offset_seconds": 0})


def _events(payable, action):
    return AuditEvent.objects.filter(action=action, object_id=str(payable.pk))


def _in(days: int) -> dt.date:
    return timezone.localdate() + dt.timedelta(days=days)


# --- scheduling ---------------------------------------------------------------------------------------------


def test_the_schedule_page_asks_for_a_fresh_code_and_the_payable_shows_the_date(client, people, approved_payable):
    people.payer.first_name, people.payer.last_name = "Pat", "Payer"
    people.payer.save()
    device = add_totp_device(people.payer)
    login_verified(client, people.payer)
    url = reverse("admin:payables_payable_act", args=[approved_payable.pk, "schedule"])
    page = client.get(url).content.decode()
    assert "Code from your authenticator app" in page and "Pay on" in page
    day = _in(6)
    page = client.post(url, {"confirm": "1", "pay_on": day.isoformat(), "otp_token": "000000"}).content.decode()
    assert "That code is wrong or has expired" in page
    assert Payable.objects.get(pk=approved_payable.pk).pay_on is None
    device.refresh_from_db()
    device.throttle_reset()
    client.post(url, {"confirm": "1", "pay_on": day.isoformat(), "otp_token": current_code(device)})
    payable = Payable.objects.get(pk=approved_payable.pk)
    assert (payable.pay_on, payable.pay_scheduled_by) == (day, people.payer)
    page = client.get(reverse("admin:payables_payable_change", args=[payable.pk])).content.decode()
    assert f"Scheduled to pay on {day.day} {day:%b %Y} by Pat Payer" in page
    event = _events(payable, "payable.pay_scheduled").get()
    assert event.actor == people.payer
    assert event.changes["pay_on"] == {"before": None, "after": day.isoformat()}


def test_scheduling_without_a_date_names_the_field(client, people, approved_payable):
    login_verified(client, people.payer)
    session = client.session
    session[SESSION_OTP_VERIFIED_AT] = timezone.now().timestamp()
    session.save()
    url = reverse("admin:payables_payable_act", args=[approved_payable.pk, "schedule"])
    page = client.post(url, {"confirm": "1", "pay_on": ""}).content.decode()
    assert "Choose the date to pay on." in page
    assert Payable.objects.get(pk=approved_payable.pk).pay_on is None


def test_a_clerk_may_not_schedule_a_payment(people, approved_payable):
    with pytest.raises(PermissionRefused):
        scheduled.payable_schedule_pay(payable_id=approved_payable.pk, actor=people.clerk, pay_on=_in(2))
    assert Payable.objects.get(pk=approved_payable.pk).pay_on is None
    assert not _events(approved_payable, "payable.pay_scheduled").exists()


def test_the_creator_may_not_schedule_their_own_payable(people, make_payable):
    payable = make_payable(creator=people.payer)
    services.payable_submit(payable_id=payable.pk, actor=people.clerk)
    services.payable_approve(payable_id=payable.pk, actor=people.approver)
    with pytest.raises(SegregationOfDutiesViolation, match="you created it"):
        scheduled.payable_schedule_pay(payable_id=payable.pk, actor=people.payer, pay_on=_in(2))
    assert Payable.objects.get(pk=payable.pk).pay_on is None


def test_whoever_approved_it_may_not_schedule_its_payment_superusers_included(people, approved_payable):
    people.approver.is_superuser = True
    people.approver.save(update_fields=["is_superuser"])
    with pytest.raises(ApproverMayNotPay, match="you approved it"):
        scheduled.payable_schedule_pay(payable_id=approved_payable.pk, actor=people.approver, pay_on=_in(1))
    assert Payable.objects.get(pk=approved_payable.pk).pay_on is None
    assert not _events(approved_payable, "payable.pay_scheduled").exists()


def test_a_payable_waiting_for_approval_cannot_be_scheduled(people, make_payable):
    payable = make_payable()
    services.payable_submit(payable_id=payable.pk, actor=people.clerk)
    with pytest.raises(InvalidTransition, match="only an approved payable"):
        scheduled.payable_schedule_pay(payable_id=payable.pk, actor=people.payer, pay_on=_in(2))
    assert Payable.objects.get(pk=payable.pk).pay_on is None


def test_a_date_in_the_past_is_refused(people, approved_payable):
    with pytest.raises(ScheduleRefused, match="in the past"):
        scheduled.payable_schedule_pay(payable_id=approved_payable.pk, actor=people.payer, pay_on=_in(-1))
    assert Payable.objects.get(pk=approved_payable.pk).pay_on is None


def test_unscheduling_is_audited_with_the_reason(people, approved_payable):
    scheduled.payable_schedule_pay(payable_id=approved_payable.pk, actor=people.payer, pay_on=_in(3))
    payable = scheduled.payable_unschedule_pay(
        payable_id=approved_payable.pk, actor=people.payer, reason="vendor asked"
    )
    assert payable.pay_on is None and payable.pay_scheduled_by is None
    event = _events(payable, "payable.pay_unscheduled").get()
    assert event.reason == "vendor asked"
    assert event.changes["pay_on"]["after"] is None


def test_a_payable_being_paid_by_its_run_cannot_be_unscheduled(people, approved_payable):
    scheduled.payable_schedule_pay(payable_id=approved_payable.pk, actor=people.payer, pay_on=_in(0))
    Payable.objects.filter(pk=approved_payable.pk).update(pay_run_claimed_at=timezone.now())
    with pytest.raises(ScheduleRefused, match="being made right now"):
        scheduled.payable_unschedule_pay(payable_id=approved_payable.pk, actor=people.payer)
    assert Payable.objects.get(pk=approved_payable.pk).pay_on == _in(0)


def test_schedule_for_due_date_reports_each_payable(client, people, make_payable):
    login_verified(client, people.payer)
    session = client.session
    session[SESSION_OTP_VERIFIED_AT] = timezone.now().timestamp()
    session.save()
    with_due = make_payable(due_date=_in(5), amount_cents=10_000)
    without_due = make_payable(amount_cents=20_000)
    not_approved = make_payable(due_date=_in(5), amount_cents=30_000)
    for payable in (with_due, without_due, not_approved):
        services.payable_submit(payable_id=payable.pk, actor=people.clerk)
    for payable in (with_due, without_due):
        services.payable_approve(payable_id=payable.pk, actor=people.approver)
    changelist = reverse("admin:payables_payable_changelist")
    ids = [str(p.pk) for p in (with_due, without_due, not_approved)]
    page = client.post(changelist, {"action": "schedule_due_selected", "_selected_action": ids}).content.decode()
    assert "Schedule for due date" in page and "no due date" in page
    response = client.post(
        reverse("admin:payables_payable_bulk", args=["schedule_due"]), {"ids": ids, "confirm": "1"}, follow=True
    )
    text = " ".join(str(m) for m in response.context["messages"])
    assert "1 scheduled for payment" in text
    assert f"{without_due.bill_number}: it has no due date" in text
    assert f"{not_approved.bill_number}: only an approved payable" in text
    assert Payable.objects.get(pk=with_due.pk).pay_on == with_due.due_date
    assert Payable.objects.get(pk=without_due.pk).pay_on is None


# --- the morning run ---------------------------------------------------------------------------------------


def test_the_run_pays_on_the_day_from_the_hour_as_the_payer(dots, people, approved_payable, settings, reset_clock):
    settings.SCHEDULED_PAY_HOUR = 6
    day = _in(3)
    scheduled.payable_schedule_pay(payable_id=approved_payable.pk, actor=people.payer, pay_on=day)
    system = audit.system_user()
    # The day before, and at dawn on the day: nothing is paid.
    scheduled.payables_pay_scheduled(actor=system, now=_morning(day - dt.timedelta(days=1), 9))
    scheduled.payables_pay_scheduled(actor=system, now=_morning(day, 5))
    assert dots.received("POST", PAY_PATH) == []
    now = _move_clocks_to(dots, day)
    report = scheduled.payables_pay_scheduled(actor=system, now=now)
    assert len(report.paid) == 1
    payable = Payable.objects.get(pk=approved_payable.pk)
    assert payable.status in (S.PAYMENT_INITIATED, S.PAYMENT_COMPLETED)
    assert payable.pay_requested_by == people.payer
    assert payable.pay_run_outcome == "paid"
    assert _events(payable, "payable.pay_requested").get().actor == people.payer
    assert _events(payable, "payable.scheduled_pay_outcome").get().source == AuditEvent.Source.TASK
    # The next run of the morning finds nothing to do.
    scheduled.payables_pay_scheduled(actor=system, now=now + dt.timedelta(minutes=15))
    assert len(dots.received("POST", PAY_PATH)) == 1
    assert _payments_in_dots(dots, payable) == 1


def test_the_run_refuses_when_the_payer_lost_the_role_and_says_why(dots, people, approved_payable):
    scheduled.payable_schedule_pay(payable_id=approved_payable.pk, actor=people.payer, pay_on=_in(0))
    people.payer.groups.remove(Group.objects.get(name=roles.PAYER))
    report = scheduled.payables_pay_scheduled(actor=audit.system_user(), now=_morning(_in(1)))
    assert len(report.refused) == 1
    payable = Payable.objects.get(pk=approved_payable.pk)
    assert payable.status == S.APPROVED
    assert payable.pay_run_outcome == "refused"
    assert "does not allow you to pay payables" in payable.pay_run_reason
    assert dots.received("POST", PAY_PATH) == []


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_pay_once(dots, people, approved_payable):
    scheduled.payable_schedule_pay(payable_id=approved_payable.pk, actor=people.payer, pay_on=_in(0))
    now, barrier, reports = _morning(_in(1)), threading.Barrier(2), []

    def run():
        try:
            barrier.wait()
            reports.append(scheduled.payables_pay_scheduled(actor=audit.system_user(), now=now))
        except DomainError as exc:
            reports.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(len(r.paid) for r in reports) == 1, reports
    payable = Payable.objects.get(pk=approved_payable.pk)
    assert len(dots.received("POST", PAY_PATH)) == 1
    assert _payments_in_dots(dots, payable) == 1
    assert _events(payable, "payable.scheduled_pay_outcome").count() == 1


class WorkerKilled(BaseException):
    """The worker process dying: nothing after this point runs (no except clause catches it)."""


def test_a_worker_killed_mid_call_is_settled_and_paid_once(dots, people, approved_payable, settings, monkeypatch):
    scheduled.payable_schedule_pay(payable_id=approved_payable.pk, actor=people.payer, pay_on=_in(0))
    # Dots takes the payment and its answer is lost; the worker dies while waiting for it.
    dots.add_fault(method="POST", path=PAY_PATH, kind="drop", count=1)
    real_client = services.client

    class DyingClient:
        def __getattr__(self, name):
            return getattr(real_client(), name)

        def pay_payable(self, **kwargs):
            try:
                real_client().pay_payable(**kwargs)
            finally:
                raise WorkerKilled

    monkeypatch.setattr(services, "client", DyingClient)
    now = _morning(_in(1))
    with pytest.raises(WorkerKilled):
        scheduled.payables_pay_scheduled(actor=audit.system_user(), now=now)
    monkeypatch.undo()
    payable = Payable.objects.get(pk=approved_payable.pk)
    assert payable.status == S.PAY_REQUESTED and payable.pay_run_claimed_at is not None
    assert len(dots.received("POST", PAY_PATH)) == 1
    # The next run sends nothing: the payable is claimed and its payment in flight.
    report = scheduled.payables_pay_scheduled(actor=audit.system_user(), now=now + dt.timedelta(minutes=15))
    assert report.paid == [] and len(report.in_flight) == 1
    assert len(dots.received("POST", PAY_PATH)) == 1
    # Reconciliation reads the interrupted call back; following the payment settles it.
    settings.PAY_REQUEST_STALE_SECONDS = 0
    reconcile.resolve_payables_in_doubt(actor=audit.system_user())
    payments.payable_follow_payment(payable_id=payable.pk)
    payable.refresh_from_db()
    assert payable.status in (S.PAYMENT_INITIATED, S.PAYMENT_COMPLETED)
    # The run after that records the outcome for the payer, and still sends nothing.
    report = scheduled.payables_pay_scheduled(actor=audit.system_user(), now=now + dt.timedelta(minutes=30))
    assert len(report.paid) == 1
    assert Payable.objects.get(pk=payable.pk).pay_run_outcome == "paid"
    assert len(dots.received("POST", PAY_PATH)) == 1
    assert _payments_in_dots(dots, payable) == 1


def test_a_worker_killed_after_its_claim_but_before_paying_is_paid_by_a_later_run(
    dots, people, approved_payable, settings
):
    scheduled.payable_schedule_pay(payable_id=approved_payable.pk, actor=people.payer, pay_on=_in(0))
    # The claim committed, then the worker died before calling pay.
    Payable.objects.filter(pk=approved_payable.pk).update(pay_run_claimed_at=timezone.now() - dt.timedelta(minutes=5))
    settings.PAY_REQUEST_STALE_SECONDS = 120
    report = scheduled.payables_pay_scheduled(actor=audit.system_user(), now=_morning(_in(1)))
    assert len(report.released) == 1 and len(report.paid) == 1
    payable = Payable.objects.get(pk=approved_payable.pk)
    assert payable.pay_run_outcome == "paid"
    assert len(dots.received("POST", PAY_PATH)) == 1
    assert _payments_in_dots(dots, payable) == 1


def test_a_recent_claim_is_left_to_the_run_that_holds_it(dots, people, approved_payable, settings):
    scheduled.payable_schedule_pay(payable_id=approved_payable.pk, actor=people.payer, pay_on=_in(0))
    Payable.objects.filter(pk=approved_payable.pk).update(pay_run_claimed_at=timezone.now())
    settings.PAY_REQUEST_STALE_SECONDS = 120
    report = scheduled.payables_pay_scheduled(actor=audit.system_user(), now=_morning(_in(1)))
    assert report.released == [] and report.paid == []
    assert dots.received("POST", PAY_PATH) == []


def test_the_payer_is_told_the_outcome_by_email(dots, people, approved_payable, django_capture_on_commit_callbacks):
    scheduled.payable_schedule_pay(payable_id=approved_payable.pk, actor=people.payer, pay_on=_in(0))
    with django_capture_on_commit_callbacks(execute=True):
        scheduled.payables_pay_scheduled(actor=audit.system_user(), now=_morning(_in(1)))
    told = [m for m in mail.outbox if m.to == [people.payer.email]]
    assert [m.subject for m in told] == [
        f"{approved_payable.bill_number} from Acme Supplies ($250.00) was paid as you scheduled"
    ]


def test_the_payer_is_told_why_a_scheduled_payment_was_refused(
    dots, people, approved_payable, django_capture_on_commit_callbacks
):
    scheduled.payable_schedule_pay(payable_id=approved_payable.pk, actor=people.payer, pay_on=_in(0))
    app_id = DotsClient(dots.base_url, dots.client_id, dots.api_key).list_apps()[0].id
    dots.control(f"apps/{app_id}/balance", {"balance": 100})
    with django_capture_on_commit_callbacks(execute=True):
        scheduled.payables_pay_scheduled(actor=audit.system_user(), now=_morning(_in(1)))
    payable = Payable.objects.get(pk=approved_payable.pk)
    assert payable.pay_run_outcome == "refused" and "holds $1.00" in payable.pay_run_reason
    told = [m for m in mail.outbox if m.to == [people.payer.email]]
    assert len(told) == 1 and "was not paid on its scheduled day" in told[0].subject
    assert "holds $1.00" in told[0].body
    assert dots.received("POST", PAY_PATH) == []


def test_the_list_says_when_a_scheduled_payable_is_paid(client, people, approved_payable):
    day = _in(3)
    scheduled.payable_schedule_pay(payable_id=approved_payable.pk, actor=people.payer, pay_on=day)
    login_verified(client, people.payer)
    page = client.get(reverse("admin:payables_payable_changelist")).content.decode()
    assert f"scheduled for {day.day} {day:%b %Y}" in page
    assert f"To be paid on {day.day} {day:%b %Y}, as scheduled" in page and "Payer: pay" not in page
