"""Payable actions during a Dots outage: queued instead of failing, run as their user when Dots answers."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from core import action_queue, roles
from core.errors import ActionQueued, AlreadyQueued
from core.models import AuditEvent, QueuedDotsAction
from payables import seam as payables_seam
from payables import services
from payables.models import Payable
from tests.outage_support import end_outage, start_outage
from tests.support import login_verified

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("outage_settings")]
S = Payable.Status
Q = QueuedDotsAction.Status
PAY_PATH = "/v2/accounts-payable/payables/*/pay"
APPROVE_PATH = "/v2/accounts-payable/payables/*/approve"


def _submitted(people, make_payable, **options):
    payable = make_payable(**options)
    services.payable_submit(payable_id=payable.pk, actor=people.clerk)
    payable.refresh_from_db()
    assert payable.status == S.SUBMITTED
    return payable


def test_approve_during_an_outage_is_queued_without_calling_dots_and_runs_when_dots_answers(dots, people, make_payable):
    payable = _submitted(people, make_payable)
    start_outage(dots)

    with pytest.raises(ActionQueued) as queued:
        services.payable_approve(payable_id=payable.pk, actor=people.approver, comment="ok")

    assert "Dots is unreachable since" in str(queued.value)
    assert f"your approval of {payable} is queued and will be sent when Dots answers" in str(queued.value)
    assert dots.received("POST", APPROVE_PATH) == []
    action = QueuedDotsAction.objects.get()
    assert (action.kind, action.status, action.actor, action.arguments) == (
        payables_seam.PAYABLE_APPROVE,
        Q.WAITING,
        people.approver,
        {"comment": "ok"},
    )
    assert AuditEvent.objects.filter(action="dots_action.queued", actor=people.approver).exists()

    end_outage(dots)
    result = action_queue.drain()

    assert result.done == 1
    payable.refresh_from_db()
    assert payable.status == S.APPROVED
    assert len(dots.received("POST", APPROVE_PATH)) == 1
    # The approval is the approver's own, as if they had clicked when Dots answered.
    assert AuditEvent.objects.filter(
        action="payable.approved", actor=people.approver, object_id=str(payable.pk)
    ).exists()
    action.refresh_from_db()
    assert action.status == Q.DONE and action.finished_at is not None
    done = AuditEvent.objects.get(action="dots_action.done", object_id=str(action.pk))
    assert (done.actor_label, done.source) == ("system", AuditEvent.Source.TASK)


def test_pay_during_an_outage_is_queued_keeps_the_payable_approved_and_sends_exactly_one_pay(
    dots, people, approved_payable
):
    dots.settings(payable_payment={"mode": "immediate", "outcome": "payment_completed"})
    start_outage(dots)

    with pytest.raises(ActionQueued):
        services.payable_pay(payable_id=approved_payable.pk, actor=people.payer)
    approved_payable.refresh_from_db()
    # Not pay_requested: reconciliation would read that as an interrupted call.
    assert approved_payable.status == S.APPROVED

    with pytest.raises(AlreadyQueued, match="a payment is already queued"):
        services.payable_pay(payable_id=approved_payable.pk, actor=people.payer)
    end_outage(dots)
    # Even with Dots back, paying again by hand is refused until the queued one has run.
    with pytest.raises(AlreadyQueued, match="a payment is already queued"):
        services.payable_pay(payable_id=approved_payable.pk, actor=people.payer)

    action_queue.drain()
    action_queue.drain()  # a second run finds nothing to do

    assert len(dots.received("POST", PAY_PATH)) == 1
    approved_payable.refresh_from_db()
    assert approved_payable.status == S.PAYMENT_COMPLETED
    assert approved_payable.pay_requested_by == people.payer
    assert QueuedDotsAction.objects.get().status == Q.DONE


def test_a_queued_action_dots_refuses_ends_failed_with_the_reason_and_an_audit_event(dots, people, approved_payable):
    start_outage(dots)
    with pytest.raises(ActionQueued):
        services.payable_pay(payable_id=approved_payable.pk, actor=people.payer)
    end_outage(dots)
    dots.add_fault(method="POST", path=PAY_PATH, kind="insufficient_funds", count=1)

    result = action_queue.drain()

    assert result.failed == 1
    action = QueuedDotsAction.objects.get()
    assert action.status == Q.FAILED
    assert "Dots refused to pay" in action.last_error
    failed = AuditEvent.objects.get(action="dots_action.failed", object_id=str(action.pk))
    assert failed.reason == action.last_error and failed.actor_label == "system"
    approved_payable.refresh_from_db()
    assert approved_payable.status == S.APPROVED


def test_permissions_are_checked_again_when_the_queue_runs_the_action(dots, people, make_payable):
    payable = _submitted(people, make_payable)
    start_outage(dots)
    with pytest.raises(ActionQueued):
        services.payable_approve(payable_id=payable.pk, actor=people.approver)
    people.approver.groups.remove(Group.objects.get(name=roles.APPROVER))
    end_outage(dots)

    action_queue.drain()

    action = QueuedDotsAction.objects.get()
    assert action.status == Q.FAILED
    assert "does not allow you to approve" in action.last_error
    assert dots.received("POST", APPROVE_PATH) == []
    payable.refresh_from_db()
    assert payable.status == S.SUBMITTED


def test_segregation_of_duties_is_checked_again_when_the_queue_runs_the_action(dots, people, approved_payable):
    # A pay queued in the creator's name (say the payable's creator was changed, or the row was
    # queued by other means) is refused when it runs, whatever its role.
    people.clerk.groups.add(Group.objects.get(name=roles.PAYER))
    action = action_queue._queue(
        kind=payables_seam.PAYABLE_PAY,
        target=approved_payable,
        actor=people.clerk,
        arguments={},
        next_attempt_at=approved_payable.created_at,
        reason="test",
    )

    action_queue.drain()

    action.refresh_from_db()
    assert action.status == Q.FAILED
    assert "you created it" in action.last_error
    assert dots.received("POST", PAY_PATH) == []


def test_cancel_and_reject_queue_with_their_reason(dots, people, make_payable):
    rejected = _submitted(people, make_payable)
    start_outage(dots)

    with pytest.raises(ActionQueued):
        services.payable_reject(payable_id=rejected.pk, actor=people.approver, reason="wrong amount")
    end_outage(dots)
    action_queue.drain()

    rejected.refresh_from_db()
    assert rejected.status == S.REJECTED
    event = AuditEvent.objects.get(action="payable.rejected", object_id=str(rejected.pk))
    assert (event.actor, event.reason) == (people.approver, "wrong amount")


def test_approve_button_during_an_outage_says_queued_and_the_payable_page_shows_it(client, dots, people, make_payable):
    payable = _submitted(people, make_payable)
    start_outage(dots)
    login_verified(client, people.approver)

    response = client.post(
        reverse("admin:payables_payable_act", args=[payable.pk, "approve"]),
        {"confirm": "yes", "comment": ""},
        follow=True,
    )

    page = response.content.decode()
    assert "your approval of" in page and "is queued and will be sent when Dots answers" in page
    assert 'class="error"' not in page
    assert "Approve payable by approver: queued since" in page
    assert "Dots unreachable since" in page  # the banner


def test_bulk_approve_during_an_outage_reports_queued_rows_apart(client, dots, people, make_payable):
    first = _submitted(people, make_payable)
    second = _submitted(people, make_payable, items=(("Toner", 9_900, 1),))
    start_outage(dots)
    login_verified(client, people.approver)

    response = client.post(
        reverse("admin:payables_payable_changelist"),
        {"action": "approve_selected", "_selected_action": [first.pk, second.pk]},
        follow=True,
    )

    page = response.content.decode()
    assert "2 queued until Dots answers" in page
    assert "skipped" not in page
    assert QueuedDotsAction.objects.filter(status=Q.WAITING).count() == 2
