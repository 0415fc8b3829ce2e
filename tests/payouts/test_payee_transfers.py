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
from tests.support import login_verified, make_user

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
    login_verified(client, payer)
    page = client.get(f"/admin/payouts/payeetransfer/{transfer.pk}/change/").content.decode()
    assert "$12.34" in page and "Approve and send" in page
    client.post(f"/admin/payouts/payeetransfer/{transfer.pk}/approve/", {"note": "ok"})
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
