"""Transfers from the app wallet to a payee's wallet: asked, approved by another person (a Payer), sent once."""

import pytest
from django.contrib.auth.models import Group

from core import roles
from core.audit import system_user
from core.dots_gateway import client
from core.errors import DotsOutcomeUnknownError, DotsRejected, PermissionRefused, SegregationOfDutiesViolation
from core.models import AuditEvent
from payouts import sync
from payouts.models import PayeeTransfer
from payouts.services import payee_transfers, payees
from tests.support import add_totp_device, current_code, login_verified, make_user

from .conftest import phone

pytestmark = pytest.mark.django_db
S = PayeeTransfer.Status


@pytest.fixture
def payee(dots, operator):
    return payees.payee_create(
        first_name="Ann", last_name="Lee", email="ann@example.com", phone=phone(), actor=operator
    )


def _ask(operator, payee, cents=2_500):
    return payee_transfers.transfer_request(actor=operator, payee_id=payee.pk, amount_cents=cents, reason="Bonus")


def test_the_operator_asks_a_payer_approves_and_it_is_sent_with_the_stored_key(dots, operator, payer, payee):
    transfer = _ask(operator, payee)
    assert transfer.status == S.AWAITING_APPROVAL and dots.received("POST", "/v2/transfers") == []
    sent = payee_transfers.transfer_approve(actor=payer, transfer_id=transfer.pk, note="ok")
    assert sent.status == S.CREATED and sent.dots_transfer_id
    (call,) = dots.received("POST", "/v2/transfers")
    assert call["body"] == {
        "amount": 2_500,
        "user_id": payee.dots_user_id,
        "idempotency_key": str(sent.idempotency_key),
    }
    actions = set(AuditEvent.objects.filter(object_id=str(transfer.pk)).values_list("action", flat=True))
    assert {"payee_transfer.requested", "payee_transfer.approved", "payee_transfer.sent"} <= actions


def test_whoever_asks_does_not_approve_even_with_both_roles(dots, operator, payee):
    both = make_user("both", role=roles.PAYOUTS_OPERATOR)
    both.groups.add(Group.objects.get(name=roles.PAYER))
    transfer = payee_transfers.transfer_request(actor=both, payee_id=payee.pk, amount_cents=100, reason="x")
    with pytest.raises(SegregationOfDutiesViolation):
        payee_transfers.transfer_approve(actor=both, transfer_id=transfer.pk)
    with pytest.raises(PermissionRefused):
        payee_transfers.transfer_approve(actor=operator, transfer_id=transfer.pk)
    transfer.refresh_from_db()
    assert transfer.status == S.AWAITING_APPROVAL and dots.received("POST", "/v2/transfers") == []


def test_a_payer_may_not_ask_and_amount_and_reason_are_checked(dots, operator, payer, payee):
    with pytest.raises(PermissionRefused):
        _ask(payer, payee)
    for cents, reason in ((0, "x"), (-5, "x"), (100, "  ")):
        with pytest.raises(Exception, match="amount|Say why"):
            payee_transfers.transfer_request(actor=operator, payee_id=payee.pk, amount_cents=cents, reason=reason)
    assert not PayeeTransfer.objects.exists()


def test_a_rejected_transfer_is_never_sent(dots, operator, payer, payee):
    transfer = _ask(operator, payee)
    payee_transfers.transfer_reject(actor=payer, transfer_id=transfer.pk, reason="Not agreed")
    transfer.refresh_from_db()
    assert transfer.status == S.REJECTED and dots.received("POST", "/v2/transfers") == []


def test_a_dropped_answer_is_sent_again_with_the_same_key_and_dots_has_one_transfer(dots, operator, payer, payee):
    transfer = _ask(operator, payee)
    dots.add_fault(method="POST", path="/v2/transfers", kind="drop", count=1)
    sent = payee_transfers.transfer_approve(actor=payer, transfer_id=transfer.pk)
    calls = dots.received("POST", "/v2/transfers")
    assert len(calls) == 2 and {c["body"]["idempotency_key"] for c in calls} == {str(transfer.idempotency_key)}
    listed = list(client().list_transfers(user_id=payee.dots_user_id).items)
    assert [t.id for t in listed] == [sent.dots_transfer_id]


def test_answers_lost_every_time_leave_it_unknown_and_the_sync_finds_the_one_transfer(dots, operator, payer, payee):
    transfer = _ask(operator, payee)
    dots.add_fault(method="POST", path="/v2/transfers", kind="drop", count=10)
    with pytest.raises(DotsOutcomeUnknownError):
        payee_transfers.transfer_approve(actor=payer, transfer_id=transfer.pk)
    transfer.refresh_from_db()
    assert transfer.status == S.UNKNOWN and transfer.dots_transfer_id is None
    dots.control("faults/clear")
    sync.payee_transfers_step(actor=system_user())
    transfer.refresh_from_db()
    listed = list(client().list_transfers(user_id=payee.dots_user_id).items)
    assert transfer.status == S.CREATED and [t.id for t in listed] == [transfer.dots_transfer_id]


def test_dots_refusal_is_kept_with_its_words(dots, operator, payer, payee):
    transfer = _ask(operator, payee)
    dots.add_fault(method="POST", path="/v2/transfers", kind="insufficient_funds", count=1)
    with pytest.raises(DotsRejected):
        payee_transfers.transfer_approve(actor=payer, transfer_id=transfer.pk)
    transfer.refresh_from_db()
    assert transfer.status == S.REFUSED and transfer.last_dots_error


def test_the_pages_ask_approve_and_refuse_the_asker(dots, operator, payer, payee, client):
    both = make_user("asker", role=roles.PAYOUTS_OPERATOR)
    both.groups.add(Group.objects.get(name=roles.PAYER))
    login_verified(client, both)
    asked = client.post(
        "/admin/payouts/payeetransfer/add/", {"payee": payee.pk, "amount": "12.34", "reason": "Referral bonus"}
    )
    assert asked.status_code == 302
    transfer = PayeeTransfer.objects.get()
    assert transfer.amount_cents == 1_234 and transfer.requested_by == both
    refused = client.post(f"/admin/payouts/payeetransfer/{transfer.pk}/approve/", {"note": ""})
    assert refused.status_code == 200 and "another Payer must decide" in refused.content.decode()
    assert dots.received("POST", "/v2/transfers") == []
    device = add_totp_device(payer)
    login_verified(client, payer)
    page = client.get(f"/admin/payouts/payeetransfer/{transfer.pk}/change/").content.decode()
    assert "$12.34" in page and "Approve and send" in page
    approve = f"/admin/payouts/payeetransfer/{transfer.pk}/approve/"
    client.post(approve, {"note": "ok", "otp_token": current_code(device)})
    transfer.refresh_from_db()
    assert transfer.status == S.CREATED and len(dots.received("POST", "/v2/transfers")) == 1


def test_approved_while_dots_is_down_it_is_sent_by_the_sync_later(dots, operator, payer, payee, settings):
    from core.errors import DotsUnavailable

    settings.PAY_REQUEST_STALE_SECONDS = 0
    transfer = _ask(operator, payee)
    dots.add_fault(method="POST", path="/v2/transfers", kind="status", status=503, count=20)
    with pytest.raises(DotsUnavailable):
        payee_transfers.transfer_approve(actor=payer, transfer_id=transfer.pk)
    transfer.refresh_from_db()
    assert transfer.status == S.TO_SEND and transfer.last_dots_error
    dots.control("faults/clear")
    sync.payee_transfers_step(actor=system_user())
    transfer.refresh_from_db()
    assert transfer.status == S.CREATED
    assert [t.id for t in client().list_transfers(user_id=payee.dots_user_id).items] == [transfer.dots_transfer_id]


def test_approving_on_the_page_needs_a_fresh_code_and_a_wrong_one_sends_nothing(dots, operator, payer, payee, client):
    transfer = _ask(operator, payee)
    device = add_totp_device(payer)
    login_verified(client, payer)
    url = f"/admin/payouts/payeetransfer/{transfer.pk}/approve/"
    assert "Code from your authenticator app" in client.get(url).content.decode()
    wrong = client.post(url, {"note": "ok", "otp_token": "000000"}).content.decode()
    assert "That code is wrong or has expired" in wrong
    missing = client.post(url, {"note": "ok"}).content.decode()
    assert "Enter the six digits from your authenticator app" in missing
    transfer.refresh_from_db()
    assert transfer.status == S.AWAITING_APPROVAL and dots.received("POST", "/v2/transfers") == []

    device.refresh_from_db()
    device.throttle_reset()
    response = client.post(url, {"note": "ok", "otp_token": current_code(device)})
    transfer.refresh_from_db()
    assert response.status_code == 302 and transfer.status == S.CREATED
    assert len(dots.received("POST", "/v2/transfers")) == 1
    # Rejecting moves no money: no code asked.
    other = _ask(operator, payee)
    assert "authenticator" not in client.get(f"/admin/payouts/payeetransfer/{other.pk}/reject/").content.decode()


def test_approved_during_an_outage_it_is_queued_and_sent_once_when_dots_answers(dots, operator, payer, payee, settings):
    from core import action_queue
    from core.errors import ActionQueued
    from core.models import QueuedDotsAction
    from tests.outage_support import end_outage, start_outage

    settings.DOTS_OUTAGE_AFTER_SECONDS = 0
    settings.DOTS_OUTAGE_MIN_FAILURES = 1
    settings.DOTS_HEALTH_CACHE_SECONDS = 0
    transfer = _ask(operator, payee)
    start_outage(dots)
    try:
        with pytest.raises(ActionQueued, match="queued and will be sent when Dots answers"):
            payee_transfers.transfer_approve(actor=payer, transfer_id=transfer.pk, note="ok")
        transfer.refresh_from_db()
        action = QueuedDotsAction.objects.get()
        assert transfer.status == S.TO_SEND and action.kind == "payee_transfer.send" and action.actor == payer
        assert dots.received("POST", "/v2/transfers") == []
        end_outage(dots)
        result = action_queue.drain()
    finally:
        from core import dots_health

        dots_health.forget_cached()
    assert result.done == 1
    transfer.refresh_from_db()
    assert transfer.status == S.CREATED
    listed = list(client().list_transfers(user_id=payee.dots_user_id).items)
    assert [t.id for t in listed] == [transfer.dots_transfer_id]


def test_a_status_drift_is_reported_and_dots_state_adopted(dots, operator, payer, payee):
    from reconciliation import services
    from reconciliation.models import Discrepancy

    transfer = payee_transfers.transfer_approve(actor=payer, transfer_id=_ask(operator, payee).pk)
    PayeeTransfer.objects.filter(pk=transfer.pk).update(status=S.FAILED)

    services.reconcile_all(actor=system_user(), record_types=["payee_transfer"])

    row = Discrepancy.objects.get(record_type="payee_transfer", resolution="")
    assert (row.kind, row.local_value, row.dots_value, row.local_id) == ("status", "failed", "created", transfer.pk)
    services.discrepancy_adopt(discrepancy_id=row.pk, actor=make_user("admin", role=roles.ADMINISTRATOR))
    transfer.refresh_from_db()
    assert transfer.status == S.CREATED
    assert AuditEvent.objects.filter(
        action="payee_transfer.status_changed", object_id=str(transfer.pk), source="reconcile"
    ).exists()


def test_reconciliation_settles_a_transfer_whose_answer_was_lost_with_one_transfer_in_dots(
    dots, operator, payer, payee
):
    from reconciliation import services

    transfer = _ask(operator, payee)
    dots.add_fault(method="POST", path="/v2/transfers", kind="drop", count=10)
    with pytest.raises(DotsOutcomeUnknownError):
        payee_transfers.transfer_approve(actor=payer, transfer_id=transfer.pk)
    dots.control("faults/clear")

    result = services.reconcile_all(actor=system_user(), record_types=["payee_transfer"])

    transfer.refresh_from_db()
    assert transfer.status == S.CREATED and transfer.dots_transfer_id
    assert any("found in Dots by its key" in line for line in result.settled)
    listed = list(client().list_transfers(user_id=payee.dots_user_id).items)
    assert [t.id for t in listed] == [transfer.dots_transfer_id]
