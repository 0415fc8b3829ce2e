"""Payouts from a payee's wallet to their payout method: asked, approved by another person (a Payer), sent once,
followed to paid or failed; Dots' refusals kept in its words; a lost answer never makes two payouts."""

import pytest
from django.contrib.auth.models import Group

from core import action_queue, dots_health, roles
from core.audit import system_user
from core.dots_gateway import client as dots_client
from core.errors import (
    ActionQueued,
    DotsOutcomeUnknownError,
    DotsRejected,
    PermissionRefused,
    SegregationOfDutiesViolation,
)
from core.models import AuditEvent, QueuedDotsAction
from payouts import sync
from payouts.models import PayeePayout
from payouts.services import payee_payouts, payees
from tests.outage_support import end_outage, start_outage
from tests.support import add_totp_device, current_code, login_verified, make_user

from .conftest import phone

pytestmark = pytest.mark.django_db
S = PayeePayout.Status
ACCOUNT = "000123456789"


@pytest.fixture
def payee(dots, operator):
    """A verified payee with $500.00 in their Dots wallet and a bank account as payout method."""
    payee = payees.payee_create(
        first_name="Ann", last_name="Lee", email="ann@example.com", phone=phone(), actor=operator
    )
    dots.control(f"users/{payee.dots_user_id}/status", {"status": "verified"})
    dots.control(f"users/{payee.dots_user_id}/wallet/credit", {"amount": 50_000})
    fields = {"platform": "ach", "routing_number": "021000021", "account_number": ACCOUNT, "account_type": "checking"}
    return payees.payee_add_payout_method(payee_id=payee.pk, fields={**fields, "is_default": True}, actor=operator)


def _method(operator, payee):
    (method,) = payee_payouts.payout_method_options(payee_id=payee.pk, actor=operator)
    return method


def _ask(operator, payee, cents=12_000):
    return payee_payouts.payout_request(
        actor=operator, payee_id=payee.pk, amount_cents=cents, payout_method=_method(operator, payee), reason="Earnings"
    )


def _wallet(payee) -> int:
    return dots_client().retrieve_user(user_id=payee.dots_user_id).raw["wallet"]["amount"]


def _payouts_in_dots(payee) -> list:
    return [t for t in dots_client().list_transfers(user_id=payee.dots_user_id).items if t.raw.get("type") == "payout"]


def test_the_methods_are_offered_in_words_and_never_a_whole_number(dots, operator, payee):
    method = _method(operator, payee)
    assert method["words"] == "Bank account, account ending 6789" and method["default"]
    assert ACCOUNT not in str(method)


def test_the_operator_asks_a_payer_approves_and_it_is_sent_once_with_the_stored_key_and_body(
    dots, operator, payer, payee
):
    payout = _ask(operator, payee)
    assert payout.status == S.AWAITING_APPROVAL and dots.received("POST", "/v2/payouts") == []
    sent = payee_payouts.payout_approve(actor=payer, payout_id=payout.pk, note="ok")
    assert sent.status == S.CREATED and sent.dots_transfer_id
    (call,) = dots.received("POST", "/v2/payouts")
    assert call["body"] == {
        "user_id": payee.dots_user_id,
        "amount": 12_000,
        "platform": "ach",
        "account_id": payout.payout_method_id,
        "fund": False,
        "idempotency_key": str(payout.idempotency_key),
    }
    assert _wallet(payee) == 50_000 - 12_000
    actions = set(AuditEvent.objects.filter(object_id=str(payout.pk)).values_list("action", flat=True))
    assert {"payee_payout.requested", "payee_payout.approved", "payee_payout.sent"} <= actions


def test_the_sync_follows_it_to_paid_and_to_failed_with_dots_reason(dots, operator, payer, payee):
    paid = payee_payouts.payout_approve(actor=payer, payout_id=_ask(operator, payee, 1_000).pk)
    failed = payee_payouts.payout_approve(actor=payer, payout_id=_ask(operator, payee, 2_000).pk)
    dots.control(f"transfers/{paid.dots_transfer_id}/advance", {"status": "completed"})
    dots.control(f"transfers/{failed.dots_transfer_id}/advance", {"status": "failed", "reason": "Account closed"})

    sync.payee_payouts_step(actor=system_user())

    paid.refresh_from_db()
    failed.refresh_from_db()
    assert paid.status == S.COMPLETED and paid.get_status_display() == "Paid"
    assert failed.status == S.FAILED and failed.failure_reason == "Account closed"
    # A failed payout from the payee's wallet gives the money back to it.
    assert _wallet(payee) == 50_000 - 1_000


def test_whoever_asks_does_not_approve_even_with_both_roles_and_an_operator_cannot(dots, operator, payee):
    both = make_user("both", role=roles.PAYOUTS_OPERATOR)
    both.groups.add(Group.objects.get(name=roles.PAYER))
    payout = payee_payouts.payout_request(
        actor=both, payee_id=payee.pk, amount_cents=100, payout_method=_method(operator, payee), reason="x"
    )
    with pytest.raises(SegregationOfDutiesViolation):
        payee_payouts.payout_approve(actor=both, payout_id=payout.pk)
    with pytest.raises(PermissionRefused):
        payee_payouts.payout_approve(actor=operator, payout_id=payout.pk)
    payout.refresh_from_db()
    assert payout.status == S.AWAITING_APPROVAL and dots.received("POST", "/v2/payouts") == []


def test_a_payer_may_not_ask_and_the_amount_reason_and_method_are_checked(dots, operator, payer, payee):
    method = _method(operator, payee)
    with pytest.raises(PermissionRefused):
        payee_payouts.payout_request(actor=payer, payee_id=payee.pk, amount_cents=100, payout_method=method, reason="x")
    for cents, reason, chosen in ((0, "x", method), (-5, "x", method), (100, "  ", method), (100, "x", {})):
        with pytest.raises(Exception, match="amount|Say why|Choose one"):
            payee_payouts.payout_request(
                actor=operator, payee_id=payee.pk, amount_cents=cents, payout_method=chosen, reason=reason
            )
    assert not PayeePayout.objects.exists()


def test_a_rejected_payout_is_never_sent(dots, operator, payer, payee):
    payout = _ask(operator, payee)
    payee_payouts.payout_reject(actor=payer, payout_id=payout.pk, reason="Not due yet")
    payout.refresh_from_db()
    assert payout.status == S.REJECTED and payout.decision_note == "Not due yet"
    assert dots.received("POST", "/v2/payouts") == []


def test_more_than_the_wallet_holds_is_refused_by_dots_and_kept_in_its_words(dots, operator, payer, payee):
    payout = _ask(operator, payee, 60_000)
    with pytest.raises(DotsRejected):
        payee_payouts.payout_approve(actor=payer, payout_id=payout.pk)
    payout.refresh_from_db()
    assert payout.status == S.REFUSED and "insufficient" in payout.last_dots_error.lower()
    assert payout.last_dots_error.startswith("Dots refused to pay out from the payee's wallet")
    assert _wallet(payee) == 50_000 and _payouts_in_dots(payee) == []
    assert AuditEvent.objects.filter(action="payee_payout.refused", object_id=str(payout.pk)).exists()


def test_a_payee_not_verified_is_refused_by_dots(dots, operator, payer, payee):
    payout = _ask(operator, payee)
    dots.control(f"users/{payee.dots_user_id}/status", {"status": "unverified"})
    with pytest.raises(DotsRejected):
        payee_payouts.payout_approve(actor=payer, payout_id=payout.pk)
    payout.refresh_from_db()
    assert payout.status == S.REFUSED and "verified" in payout.last_dots_error


def test_a_dropped_answer_is_sent_again_with_the_same_key_and_dots_has_one_payout(dots, operator, payer, payee):
    payout = _ask(operator, payee)
    dots.add_fault(method="POST", path="/v2/payouts", kind="drop", count=1)
    sent = payee_payouts.payout_approve(actor=payer, payout_id=payout.pk)
    calls = dots.received("POST", "/v2/payouts")
    assert len(calls) == 2 and {c["body"]["idempotency_key"] for c in calls} == {str(payout.idempotency_key)}
    assert [t.id for t in _payouts_in_dots(payee)] == [sent.dots_transfer_id]
    assert _wallet(payee) == 50_000 - 12_000


def test_answers_lost_every_time_leave_it_unknown_and_the_sync_finds_the_one_payout(dots, operator, payer, payee):
    payout = _ask(operator, payee)
    dots.add_fault(method="POST", path="/v2/payouts", kind="drop", count=10)
    with pytest.raises(DotsOutcomeUnknownError):
        payee_payouts.payout_approve(actor=payer, payout_id=payout.pk)
    payout.refresh_from_db()
    assert payout.status == S.UNKNOWN and payout.dots_transfer_id is None
    assert payout.get_status_display() == "Sent to Dots, no answer yet"
    dots.control("faults/clear")
    sync.payee_payouts_step(actor=system_user())
    payout.refresh_from_db()
    assert payout.status == S.CREATED and [t.id for t in _payouts_in_dots(payee)] == [payout.dots_transfer_id]
    assert _wallet(payee) == 50_000 - 12_000


def test_approved_during_an_outage_it_is_queued_and_sent_once_when_dots_answers(
    dots, operator, payer, payee, outage_settings
):
    payout = _ask(operator, payee)
    start_outage(dots)
    with pytest.raises(ActionQueued, match="queued and will be sent when Dots answers"):
        payee_payouts.payout_approve(actor=payer, payout_id=payout.pk, note="ok")
    payout.refresh_from_db()
    action = QueuedDotsAction.objects.get()
    assert payout.status == S.TO_SEND and action.kind == "payee_payout.send" and action.actor == payer
    assert dots.received("POST", "/v2/payouts") == []
    end_outage(dots)
    assert action_queue.drain().done == 1
    payout.refresh_from_db()
    assert payout.status == S.CREATED and [t.id for t in _payouts_in_dots(payee)] == [payout.dots_transfer_id]
    dots_health.forget_cached()


def test_reconciliation_reports_a_drift_and_settles_a_lost_answer_by_its_key(dots, operator, payer, payee):
    from reconciliation import services
    from reconciliation.models import Discrepancy

    drifted = payee_payouts.payout_approve(actor=payer, payout_id=_ask(operator, payee, 1_000).pk)
    PayeePayout.objects.filter(pk=drifted.pk).update(status=S.COMPLETED)
    lost = _ask(operator, payee, 2_000)
    dots.add_fault(method="POST", path="/v2/payouts", kind="drop", count=10)
    with pytest.raises(DotsOutcomeUnknownError):
        payee_payouts.payout_approve(actor=payer, payout_id=lost.pk)
    dots.control("faults/clear")

    result = services.reconcile_all(actor=system_user(), record_types=["payee_payout"])

    row = Discrepancy.objects.get(record_type="payee_payout", resolution="")
    assert (row.kind, row.local_value, row.dots_value, row.local_id) == ("status", "completed", "created", drifted.pk)
    lost.refresh_from_db()
    assert lost.status == S.CREATED and any("found in Dots by its key" in line for line in result.settled)
    assert len(_payouts_in_dots(payee)) == 2


def test_the_pages_ask_with_a_method_read_from_dots_and_the_payer_approves_with_a_fresh_code(
    dots, operator, payer, payee, client
):
    login_verified(client, operator)
    first = client.get("/admin/payouts/payeepayout/add/").content.decode()
    assert "Next: choose the payout method" in first
    page = client.get(f"/admin/payouts/payeepayout/add/?payee={payee.pk}").content.decode()
    assert "Bank account, account ending 6789 (their default)" in page and "$500.00" in page
    assert ACCOUNT not in page
    method = _method(operator, payee)
    asked = client.post(
        "/admin/payouts/payeepayout/add/",
        {"payee": payee.pk, "payout_method": method["id"], "amount": "120.00", "reason": "March earnings"},
    )
    assert asked.status_code == 302
    payout = PayeePayout.objects.get()
    assert (payout.amount_cents, payout.payout_method_words) == (12_000, "Bank account, account ending 6789")

    device = add_totp_device(payer)
    login_verified(client, payer)
    view = client.get(f"/admin/payouts/payeepayout/{payout.pk}/change/").content.decode()
    assert "$120.00" in view and "Approve and send" in view and "Waiting for a Payer to approve" in view
    url = f"/admin/payouts/payeepayout/{payout.pk}/approve/"
    wrong = client.post(url, {"note": "ok", "otp_token": "000000"}).content.decode()
    assert "That code is wrong or has expired" in wrong and dots.received("POST", "/v2/payouts") == []
    device.refresh_from_db()
    device.throttle_reset()
    client.post(url, {"note": "ok", "otp_token": current_code(device)})
    payout.refresh_from_db()
    assert payout.status == S.CREATED and len(dots.received("POST", "/v2/payouts")) == 1
    assert "Accepted by Dots" in client.get(f"/admin/payouts/payeepayout/{payout.pk}/change/").content.decode()


def test_the_asker_is_told_on_the_page_and_a_dots_refusal_is_shown_on_the_record(dots, operator, payer, payee, client):
    both = make_user("asker", role=roles.PAYOUTS_OPERATOR)
    both.groups.add(Group.objects.get(name=roles.PAYER))
    payout = payee_payouts.payout_request(
        actor=both, payee_id=payee.pk, amount_cents=90_000, payout_method=_method(operator, payee), reason="x"
    )
    login_verified(client, both)
    own = client.get(f"/admin/payouts/payeepayout/{payout.pk}/approve/").content.decode()
    assert "another Payer must decide" in own and "authenticator" not in own

    device = add_totp_device(payer)
    login_verified(client, payer)
    done = client.post(
        f"/admin/payouts/payeepayout/{payout.pk}/approve/", {"note": "", "otp_token": current_code(device)}
    )
    assert done.status_code == 302
    page = client.get(done["Location"]).content.decode()
    assert "Refused by Dots" in page and "insufficient" in page.lower() and "$900.00" in page


def test_a_payee_without_a_payout_method_is_refused_clearly(dots, operator, client):
    bare = payees.payee_create(first_name="Bo", last_name="Ng", email="bo@example.com", phone=phone(), actor=operator)
    login_verified(client, operator)
    page = client.get(f"/admin/payouts/payeepayout/add/?payee={bare.pk}")
    assert page.status_code == 200 and "has no payout method in Dots yet" in page.content.decode()


def test_a_payee_with_a_payout_kept_here_is_not_deleted_here_or_in_dots(dots, operator, payee):
    from core.errors import DomainError

    _ask(operator, payee)
    with pytest.raises(DomainError, match="kept here for the record"):
        payees.payee_delete(payee_id=payee.pk, reason="Left", actor=operator)
    assert dots.received("DELETE", f"/v2/users/{payee.dots_user_id}") == []
    payee.refresh_from_db()


def test_a_payee_that_is_not_a_number_or_unknown_asks_again_for_the_payee(dots, operator, client):
    login_verified(client, operator)
    for value in ("abc", "999999", "1 OR 1=1"):
        page = client.get("/admin/payouts/payeepayout/add/", {"payee": value})
        assert page.status_code == 200 and "Next: choose the payout method" in page.content.decode()
