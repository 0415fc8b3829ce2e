"""Payout batches: many payees at once, built by an operator, approved by another person (a Payer), sent once
with the batch's key and one key per item, then each payee's outcome in words with totals."""

import uuid

import pytest
from django.contrib.auth.models import Group

from core import action_queue, dots_health, roles
from core.audit import system_user
from core.dots_gateway import client as dots_client
from core.errors import ActionQueued, DotsOutcomeUnknownError, PermissionRefused, SegregationOfDutiesViolation
from core.models import AuditEvent, QueuedDotsAction
from payouts import sync
from payouts.models import Payee, PayoutBatch, PayoutBatchItem
from payouts.services import payees, payout_batches
from tests.outage_support import end_outage, start_outage
from tests.support import add_totp_device, current_code, login_verified, make_user

from .conftest import phone

pytestmark = pytest.mark.django_db
S = PayoutBatch.Status
I = PayoutBatchItem.Status  # noqa: E741


def _payee(dots, operator, first: str, *, method: bool = True) -> Payee:
    payee = payees.payee_create(
        first_name=first, last_name="Lee", email=f"{first.lower()}@example.com", phone=phone(), actor=operator
    )
    dots.control(f"users/{payee.dots_user_id}/status", {"status": "verified"})
    if method:
        fields = {"platform": "paypal", "email": f"{first.lower()}@example.com", "is_default": True}
        payee = payees.payee_add_payout_method(payee_id=payee.pk, fields=fields, actor=operator)
    return payee


@pytest.fixture
def three(dots, operator):
    """Ann and Ben can be paid; Cy has no payout method, so Dots refuses his item."""
    return _payee(dots, operator, "Ann"), _payee(dots, operator, "Ben"), _payee(dots, operator, "Cy", method=False)


def _build(operator, three, amounts=(10_000, 20_000, 5_000)):
    rows = [(payee.pk, cents) for payee, cents in zip(three, amounts, strict=True)]
    return payout_batches.batch_request(actor=operator, rows=rows, reason="March earnings")


def _batches_in_dots() -> list:
    return list(dots_client().list_payout_batches().items)


def _payouts_to(payee) -> list:
    return [t for t in dots_client().list_transfers(user_id=payee.dots_user_id).items if t.raw.get("type") == "payout"]


def test_built_approved_sent_once_with_every_key_and_each_payee_has_an_outcome(dots, operator, payer, three):
    batch = _build(operator, three)
    assert batch.status == S.AWAITING_APPROVAL and (batch.item_count, batch.total_cents) == (3, 35_000)
    assert dots.received("POST", "/v2/payout-batches") == []

    sent = payout_batches.batch_approve(actor=payer, batch_id=batch.pk, note="ok")

    (call,) = dots.received("POST", "/v2/payout-batches")
    items = list(batch.items.order_by("id"))
    assert call["body"]["idempotency_key"] == str(batch.idempotency_key)
    assert [i["idempotency_key"] for i in call["body"]["items"]] == [str(item.idempotency_key) for item in items]
    assert all(i["fund"] is True and i["platform"] == "default" for i in call["body"]["items"])
    assert sent.dots_batch_id and sent.status == S.COMPLETED and sent.results_read_at
    ann, ben, cy = (item for item in sent.items.order_by("id"))
    assert (ann.status, ben.status) == (I.CREATED, I.CREATED) and ann.dots_transfer_id
    assert cy.status == I.REFUSED and cy.error_code == "payout-method-not-found"
    assert cy.reason == "The payee has no default payout method in Dots: add one on the payee's page."
    assert payout_batches.outcome_summary(sent) == "1 failed, $50.00; 2 on their way, $300.00"
    actions = set(AuditEvent.objects.filter(object_id=str(batch.pk)).values_list("action", flat=True))
    assert {"payout_batch.requested", "payout_batch.approved", "payout_batch.sent"} <= actions


def test_the_sync_follows_each_item_to_paid_or_failed_with_dots_reason(dots, operator, payer, three):
    batch = payout_batches.batch_approve(actor=payer, batch_id=_build(operator, three).pk)
    ann, ben, _ = batch.items.order_by("id")
    dots.control(f"transfers/{ann.dots_transfer_id}/advance", {"status": "completed"})
    dots.control(f"transfers/{ben.dots_transfer_id}/advance", {"status": "failed", "reason": "PayPal account closed"})

    sync.payout_batches_step(actor=system_user())

    ann.refresh_from_db()
    ben.refresh_from_db()
    assert ann.status == I.COMPLETED and ann.get_status_display() == "Paid"
    assert ben.status == I.FAILED and ben.reason == "PayPal account closed"
    assert payout_batches.outcome_summary(batch) == "1 paid, $100.00; 2 failed, $250.00"
    events = AuditEvent.objects.filter(action="payout_batch.outcomes_read", object_id=str(batch.pk))
    event = events.order_by("pk").last()
    assert event.reason == "1 paid, $100.00; 2 failed, $250.00"
    # Nothing moving any more: the sync leaves it alone.
    assert sync.payout_batches_step(actor=system_user()).checked == 0


def test_whoever_builds_does_not_approve_and_an_operator_cannot(dots, operator, three):
    both = make_user("both", role=roles.PAYOUTS_OPERATOR)
    both.groups.add(Group.objects.get(name=roles.PAYER))
    batch = _build(both, three)
    with pytest.raises(SegregationOfDutiesViolation):
        payout_batches.batch_approve(actor=both, batch_id=batch.pk)
    with pytest.raises(PermissionRefused):
        payout_batches.batch_approve(actor=operator, batch_id=batch.pk)
    batch.refresh_from_db()
    assert batch.status == S.AWAITING_APPROVAL and dots.received("POST", "/v2/payout-batches") == []


def test_a_payer_may_not_build_and_rows_are_checked(dots, operator, payer, three):
    ann = three[0]
    with pytest.raises(PermissionRefused):
        _build(payer, three)
    refusals = [
        ([], "x", "at least one payee"),
        ([(ann.pk, 0)], "x", "more than \\$0.00"),
        ([(ann.pk, 100)], " ", "Say why"),
        ([(ann.pk, 100), (ann.pk, 200)], "x", "Row 2: Ann Lee .* already in this batch"),
        ([(ann.pk, 1)] * 5001, "x", "at most 5,000 payees"),
    ]
    for rows, reason, words in refusals:
        with pytest.raises(Exception, match=words):
            payout_batches.batch_request(actor=operator, rows=rows, reason=reason)
    assert not PayoutBatch.objects.exists() and not PayoutBatchItem.objects.exists()


def test_a_rejected_batch_is_never_sent(dots, operator, payer, three):
    batch = _build(operator, three)
    payout_batches.batch_reject(actor=payer, batch_id=batch.pk, reason="Wrong month")
    batch.refresh_from_db()
    assert batch.status == S.REJECTED and dots.received("POST", "/v2/payout-batches") == []


def test_a_dropped_answer_is_sent_again_unchanged_and_each_payee_is_paid_once(dots, operator, payer, three):
    batch = _build(operator, three)
    dots.add_fault(method="POST", path="/v2/payout-batches", kind="drop", count=1)
    sent = payout_batches.batch_approve(actor=payer, batch_id=batch.pk)
    calls = dots.received("POST", "/v2/payout-batches")
    assert len(calls) == 2 and calls[0]["body"] == calls[1]["body"]
    assert [b["id"] for b in _batches_in_dots()] == [sent.dots_batch_id]
    assert len(_payouts_to(three[0])) == 1 and len(_payouts_to(three[1])) == 1


def test_answers_lost_every_time_leave_it_unknown_and_the_sync_sends_it_once(dots, operator, payer, three):
    batch = _build(operator, three)
    dots.add_fault(method="POST", path="/v2/payout-batches", kind="drop", count=10)
    with pytest.raises(DotsOutcomeUnknownError):
        payout_batches.batch_approve(actor=payer, batch_id=batch.pk)
    batch.refresh_from_db()
    assert batch.status == S.UNKNOWN and batch.get_status_display() == "Sent to Dots, no answer yet"
    dots.control("faults/clear")

    sync.payout_batches_step(actor=system_user())

    batch.refresh_from_db()
    assert batch.status == S.COMPLETED and [b["id"] for b in _batches_in_dots()] == [batch.dots_batch_id]
    assert len(_payouts_to(three[0])) == 1 and len(_payouts_to(three[1])) == 1
    assert batch.items.filter(status=I.CREATED).count() == 2


def test_approved_during_an_outage_it_is_queued_and_sent_once_when_dots_answers(
    dots, operator, payer, three, outage_settings
):
    batch = _build(operator, three)
    start_outage(dots)
    with pytest.raises(ActionQueued, match="payout batch of Payout batch"):
        payout_batches.batch_approve(actor=payer, batch_id=batch.pk)
    action = QueuedDotsAction.objects.get()
    assert action.kind == "payout_batch.send" and dots.received("POST", "/v2/payout-batches") == []
    end_outage(dots)
    assert action_queue.drain().done == 1
    batch.refresh_from_db()
    assert batch.status == S.COMPLETED and len(_batches_in_dots()) == 1
    dots_health.forget_cached()


def test_the_pages_build_from_rows_and_from_the_payee_list_and_show_each_outcome(dots, operator, payer, three, client):
    ann, ben, cy = three
    login_verified(client, operator)
    built = client.post(
        "/admin/payouts/payoutbatch/add/",
        {"payee_1": ann.pk, "amount_1": "100.00", "payee_2": ben.pk, "amount_2": "200.00", "reason": "March"},
    )
    assert built.status_code == 302
    first = PayoutBatch.objects.get()
    assert (first.item_count, first.total_cents) == (2, 30_000)
    missing = client.post("/admin/payouts/payoutbatch/add/", {"payee_1": ann.pk, "reason": "March"})
    assert "Row 1: give the amount for Ann Lee" in missing.content.decode()

    chosen = {"action": "pay_out_in_batch", "_selected_action": [ann.pk, ben.pk, cy.pk]}
    form = client.post("/admin/payouts/payee/", chosen).content.decode()
    assert "3 payees chosen" in form and "Amount for each payee" in form
    done = client.post("/admin/payouts/payee/", {**chosen, "post": "yes", "amount": "50.00", "reason": "Bonus"})
    assert done.status_code == 302
    second = PayoutBatch.objects.exclude(pk=first.pk).get()
    assert (second.item_count, second.total_cents) == (3, 15_000)

    device = add_totp_device(payer)
    login_verified(client, payer)
    url = f"/admin/payouts/payoutbatch/{second.pk}/approve/"
    assert "Total from the app wallet" in client.get(url).content.decode()
    client.post(url, {"note": "ok", "otp_token": current_code(device)})
    second.refresh_from_db()
    assert second.status == S.COMPLETED
    page = client.get(f"/admin/payouts/payoutbatch/{second.pk}/change/").content.decode()
    assert "1 failed, $50.00; 2 on their way, $100.00" in page
    assert "Refused by Dots" in page and "The payee has no default payout method in Dots" in page
    assert cy.dots_user_id not in page
    assert "Cy Lee" in page and "Accepted by Dots" in page


def test_a_batch_dots_is_still_processing_is_followed_through_each_status(dots, operator, payer, three):
    dots.settings(payout_batch={"mode": "manual"})
    batch = payout_batches.batch_approve(actor=payer, batch_id=_build(operator, three).pk)
    assert batch.status == S.CREATED and batch.get_status_display() == "Accepted by Dots"
    assert payout_batches.outcome_summary(batch) == "3 not paid out yet, $350.00"

    dots.control(f"payout-batches/{batch.dots_batch_id}/advance", {"status": "processing"})
    sync.payout_batches_step(actor=system_user())
    batch.refresh_from_db()
    assert batch.status == S.PROCESSING and set(batch.items.values_list("status", flat=True)) == {I.WAITING}

    dots.control(f"payout-batches/{batch.dots_batch_id}/advance", {"status": "paying_out"})
    sync.payout_batches_step(actor=system_user())
    batch.refresh_from_db()
    assert batch.status == S.PAYING_OUT and payout_batches.outcome_summary(batch) == (
        "1 failed, $50.00; 2 on their way, $300.00"
    )

    dots.control(f"payout-batches/{batch.dots_batch_id}/advance", {"status": "completed"})
    sync.payout_batches_step(actor=system_user())
    batch.refresh_from_db()
    assert batch.status == S.COMPLETED and len(_payouts_to(three[0])) == 1


def test_reconciliation_reports_a_batch_that_differs_or_that_ledgerline_did_not_send_and_settles_a_lost_one(
    dots, operator, payer, three
):
    from reconciliation import services
    from reconciliation.models import Discrepancy

    drifted = payout_batches.batch_approve(actor=payer, batch_id=_build(operator, three).pk)
    PayoutBatch.objects.filter(pk=drifted.pk).update(status=S.PROCESSING)
    item = {"user_id": three[0].dots_user_id, "amount": 100, "platform": "default", "fund": True}
    stranger = dots_client().create_payout_batch(items=[{**item, "idempotency_key": str(uuid.uuid4())}],
                                                 idempotency_key=str(uuid.uuid4()))  # fmt: skip
    lost = payout_batches.batch_request(actor=operator, rows=[(three[1].pk, 700)], reason="Late")
    dots.add_fault(method="POST", path="/v2/payout-batches", kind="drop", count=10)
    with pytest.raises(DotsOutcomeUnknownError):
        payout_batches.batch_approve(actor=payer, batch_id=lost.pk)
    dots.control("faults/clear")

    result = services.reconcile_all(actor=system_user(), record_types=["payout_batch"])

    rows = {row.kind: row for row in Discrepancy.objects.filter(record_type="payout_batch", resolution="")}
    assert set(rows) == {"status", "missing_locally"}
    assert (rows["status"].local_id, rows["status"].local_value, rows["status"].dots_value) == (
        drifted.pk,
        "processing",
        "completed",
    )
    assert rows["missing_locally"].dots_id == stranger["id"]
    lost.refresh_from_db()
    assert lost.status == S.COMPLETED and any("sent again with its keys" in line for line in result.settled)
    assert len(_batches_in_dots()) == 3
    services.discrepancy_adopt(discrepancy_id=rows["status"].pk, actor=make_user("admin", role=roles.ADMINISTRATOR))
    drifted.refresh_from_db()
    assert drifted.status == S.COMPLETED


def test_a_batch_page_with_an_id_that_is_not_a_number_is_not_a_server_error(dots, operator, client):
    login_verified(client, operator)
    page = client.get("/admin/payouts/payoutbatch/abc/change/")
    assert page.status_code in (302, 404)
