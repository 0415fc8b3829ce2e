"""Payout links and payout requests against the emulator: idempotency, cancel, redeliver, sync."""

import pytest
import requests

from core.errors import DotsOutcomeUnknownError, DotsRejected
from payouts import transfers
from payouts.models import PayoutLink, PayoutRequest
from payouts.services import payees, payout_links, payout_requests
from reconciliation import sync

from .conftest import phone

pytestmark = pytest.mark.django_db


@pytest.fixture
def payee(dots, operator):
    return payees.payee_create(
        first_name="Ann", last_name="Lee", email="ann@example.com", phone=phone(), actor=operator
    )


def dots_links(dots):
    return requests.get(dots.base_url + "/v2/payout-links", params={"limit": 100}, auth=dots.auth).json()["data"]


def test_a_payee_is_created_in_dots_with_its_phone_split(dots, operator):
    number = phone()
    payee = payees.payee_create(first_name="Ann", last_name="Lee", email="a@example.com", phone=number, actor=operator)
    body = dots.received("POST", "/v2/users")[0]["body"]
    assert (body["country_code"], body["phone_number"]) == ("1", number)
    assert payee.dots_status == "unverified" and payee.phone_e164 == "+1" + number


def test_a_payee_verifies_with_the_token_dots_sent(dots, operator, payee):
    payees.payee_send_verification(payee_id=payee.pk, actor=operator)
    token = dots.control_get(f"users/{payee.dots_user_id}/verification-token")["token"]
    payee = payees.payee_verify(payee_id=payee.pk, token=token, actor=operator)
    assert payee.dots_status == "verified"


def test_a_payout_link_is_created_with_the_stored_key_and_body(dots, operator, payee):
    link = payout_links.payout_link_request(
        amount_cents=2500, payee_id=payee.pk, delivery_method="sms", memo="June", actor=operator, push=False
    )
    link = payout_links.payout_link_push(payout_link_id=link.pk, actor=operator)
    sent = dots.received("POST", "/v2/payout-links")[0]["body"]
    assert sent["idempotency_key"] == str(link.idempotency_key)
    assert (link.status, link.dots_id is not None, link.timeline[0]["status"]) == ("sent", True, "sent")


def test_a_dropped_answer_then_a_retry_gives_the_same_link_never_a_second(dots, operator, payee):
    link = payout_links.payout_link_request(amount_cents=2500, payee_id=payee.pk, actor=operator, push=False)
    # Drop every answer the client could retry within one call, so the service sees "unknown".
    dots.add_fault(method="POST", path="/v2/payout-links", kind="drop", count=10)
    with pytest.raises(DotsOutcomeUnknownError):
        payout_links.payout_link_push(payout_link_id=link.pk, actor=operator)
    link.refresh_from_db()
    assert link.status == PayoutLink.Status.UNKNOWN and link.dots_id is None
    dots.control("faults/clear")
    link = payout_links.payout_link_push(payout_link_id=link.pk, actor=operator)
    assert link.status == "created"
    assert len(dots_links(dots)) == 1 and dots_links(dots)[0]["id"] == link.dots_id
    keys = {r["body"]["idempotency_key"] for r in dots.received("POST", "/v2/payout-links")}
    assert keys == {str(link.idempotency_key)}


def test_a_refused_link_says_why_and_keeps_the_request(dots, operator, payee):
    dots.add_fault(method="POST", path="/v2/payout-links", kind="insufficient_funds", count=1)
    link = payout_links.payout_link_request(amount_cents=2500, payee_id=payee.pk, actor=operator, push=False)
    with pytest.raises(DotsRejected):
        payout_links.payout_link_push(payout_link_id=link.pk, actor=operator)
    link.refresh_from_db()
    assert link.status == PayoutLink.Status.REFUSED and "insufficient" in link.last_dots_error


def test_cancelling_a_link_shows_canceled_in_its_timeline(dots, operator, payee):
    link = payout_links.payout_link_request(amount_cents=900, payee_id=payee.pk, actor=operator, push=False)
    payout_links.payout_link_push(payout_link_id=link.pk, actor=operator)
    link = payout_links.payout_link_cancel(payout_link_id=link.pk, actor=operator, reason="wrong amount")
    assert link.status == "canceled"
    assert [e["status"] for e in link.timeline] == ["created", "canceled"]


def test_redelivering_an_sms_link_sends_it_again(dots, operator, payee):
    link = payout_links.payout_link_request(
        amount_cents=900, payee_id=payee.pk, delivery_method="sms", actor=operator, push=False
    )
    payout_links.payout_link_push(payout_link_id=link.pk, actor=operator)
    payout_links.payout_link_redeliver(payout_link_id=link.pk, actor=operator)
    assert len(dots.received("POST", "/v2/payout-links/*/redeliver")) == 1


def test_a_claimed_link_is_seen_by_the_sync_and_its_transfer_listed(dots, operator, payee):
    link = payout_links.payout_link_request(amount_cents=900, payee_id=payee.pk, actor=operator, push=False)
    link = payout_links.payout_link_push(payout_link_id=link.pk, actor=operator)
    dots.control(f"payout-links/{link.dots_id}/advance", {"status": "claimed"})
    sync.sync_all(actor=operator, steps=["payout links"])
    link.refresh_from_db()
    assert link.status == "claimed" and [e["status"] for e in link.timeline] == ["created", "claimed"]
    transfers.transfers_sync(actor=operator)
    from payouts.models import Transfer

    transfer = Transfer.objects.get(dots_id=link.transfer_dots_id)
    links = transfers.links_for([transfer])[transfer.pk]
    assert (links.payout_link, links.payee, transfer.amount_cents) == (link, payee, 900)


def test_a_payout_request_to_a_new_phone_is_approved_in_dots_and_its_link_kept(dots, operator):
    request = payout_requests.payout_request_request(
        amount_cents=1500, phone=phone(), memo="refund", actor=operator, push=False
    )
    request = payout_requests.payout_request_push(payout_request_id=request.pk, actor=operator)
    assert request.status == "created" and request.dots_id
    dots.control(f"payout-requests/{request.dots_id}/approve")
    sync.sync_all(actor=operator, steps=["payout requests"])
    request.refresh_from_db()
    assert request.status == "approved" and request.payout_link.dots_id


def test_a_payout_request_whose_answer_was_dropped_is_found_not_sent_twice(dots, operator, payee):
    request = payout_requests.payout_request_request(amount_cents=1500, payee_id=payee.pk, actor=operator, push=False)
    dots.add_fault(method="POST", path="/v2/payout-requests", kind="drop", count=1)
    with pytest.raises(DotsOutcomeUnknownError):
        payout_requests.payout_request_push(payout_request_id=request.pk, actor=operator)
    request = payout_requests.payout_request_push(payout_request_id=request.pk, actor=operator)
    assert request.status == "created"
    assert len(dots.received("POST", "/v2/payout-requests")) == 1
    assert PayoutRequest.objects.get().dots_id == request.dots_id
