"""Dots webhooks at /webhooks/dots/: signed, fresh, first-time deliveries update local state from Dots;
everything else is refused with 400, recorded with its reason, and changes nothing."""

import json
import time
import uuid

import pytest
import requests
from django.db import connections

from core.models import AuditEvent
from dots.webhooks import sign
from payouts.models import WebhookDelivery
from payouts.services import payees, payout_links, payout_requests
from tests.payouts.conftest import phone

URL = "/webhooks/dots/"


def _body(payload) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


@pytest.fixture
def deliver(client, django_capture_on_commit_callbacks):
    """POST a body signed with `secret`; the processing task queued on commit runs before this returns."""

    def post(body: bytes, *, secret: str, msg_id: str | None = None, timestamp: int | None = None, **header_overrides):
        msg_id = msg_id or "msg_" + uuid.uuid4().hex
        headers = sign(secret=secret, msg_id=msg_id, timestamp=int(timestamp or time.time()), body=body)
        headers.update({k.replace("_", "-"): v for k, v in header_overrides.items()})
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(URL, data=body, content_type="application/json", headers=headers)

    return post


@pytest.fixture
def created_request(dots, operator):
    """A payout request created in Dots (status created) and known here."""
    request = payout_requests.payout_request_request(
        amount_cents=1500, phone=phone(), memo="refund", actor=operator, push=False
    )
    request = payout_requests.payout_request_push(payout_request_id=request.pk, actor=operator)
    assert request.status == "created"
    return request


def _event(request) -> bytes:
    return _body({"event": "payout_request.updated", "payout_request_id": request.dots_id})


def _webhook_audit_events():
    return AuditEvent.objects.filter(source=AuditEvent.Source.WEBHOOK)


def _assert_refused_and_nothing_changed(response, request, reason_part: str):
    assert response.status_code == 400
    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == "refused" and reason_part in delivery.refusal_reason
    request.refresh_from_db()
    assert request.status == "created" and request.payout_link_id is None
    assert not _webhook_audit_events().exists()


@pytest.mark.django_db(transaction=True)
def test_a_payout_request_approved_in_dots_shows_approved_with_its_link_after_the_emulators_webhook(
    dots, operator, live_server, monkeypatch
):
    # The emulator keeps its HTTP connection alive, so the live server's request thread would keep a
    # persistent (CONN_MAX_AGE) database session open past the test: close it after each request.
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    request = payout_requests.payout_request_request(
        amount_cents=1500, phone=phone(), memo="refund", actor=operator, push=False
    )
    request = payout_requests.payout_request_push(payout_request_id=request.pk, actor=operator)
    dots.control(
        "webhooks/config", {"url": live_server.url + URL, "secret": dots.webhook_secret, "retry_delays": [0.2]}
    )

    dots.control(f"payout-requests/{request.dots_id}/approve")
    dots.control("webhooks/flush")

    request.refresh_from_db()
    assert request.status == "approved" and request.payout_link.dots_id
    delivery = WebhookDelivery.objects.get(event_type="payout_request.updated")
    assert (delivery.outcome, delivery.processing, delivery.object_id) == ("accepted", "processed", request.dots_id)
    event = AuditEvent.objects.get(action="payout_request.status_changed", object_id=str(request.pk))
    assert (event.source, event.actor_label) == ("webhook", "system")
    sent = {e["type"]: e for e in dots.control_get("webhooks")["data"]}
    assert sent["payout_request.updated"]["status"] == "delivered"


def test_a_signed_webhook_is_answered_200_and_the_state_read_from_dots_not_the_payload(
    deliver, created_request, dots, settings
):
    dots.control(f"payout-requests/{created_request.dots_id}/approve")
    # The payload says nothing about the status: the receiver reads the request back from Dots.
    response = deliver(_event(created_request), secret=settings.DOTS_WEBHOOK_SECRET)

    assert response.status_code == 200
    created_request.refresh_from_db()
    assert created_request.status == "approved" and created_request.payout_link.dots_id
    assert _webhook_audit_events().filter(action="payout_request.status_changed").count() == 1


def test_a_forged_signature_is_refused_and_changes_nothing(deliver, created_request, dots):
    dots.control(f"payout-requests/{created_request.dots_id}/approve")
    forged_secret = "whsec_" + "Zm9yZ2VkLXNlY3JldC1mb3JnZWQtc2VjcmV0"
    response = deliver(_event(created_request), secret=forged_secret)
    _assert_refused_and_nothing_changed(response, created_request, "signature does not match")


def test_a_stale_timestamp_is_refused_and_changes_nothing(deliver, created_request, dots, settings):
    dots.control(f"payout-requests/{created_request.dots_id}/approve")
    response = deliver(
        _event(created_request), secret=settings.DOTS_WEBHOOK_SECRET, timestamp=int(time.time()) - 6 * 60
    )
    _assert_refused_and_nothing_changed(response, created_request, "too old")


def test_a_timestamp_from_the_future_is_refused_and_changes_nothing(deliver, created_request, dots, settings):
    dots.control(f"payout-requests/{created_request.dots_id}/approve")
    response = deliver(
        _event(created_request), secret=settings.DOTS_WEBHOOK_SECRET, timestamp=int(time.time()) + 6 * 60
    )
    _assert_refused_and_nothing_changed(response, created_request, "in the future")


def test_a_malformed_signature_header_is_refused_and_changes_nothing(deliver, created_request, dots, settings):
    dots.control(f"payout-requests/{created_request.dots_id}/approve")
    response = deliver(_event(created_request), secret=settings.DOTS_WEBHOOK_SECRET, svix_signature="v1-not-base64!!")
    _assert_refused_and_nothing_changed(response, created_request, "malformed svix-signature")


def test_a_delivery_without_svix_headers_is_refused_and_recorded_without_an_id(client, created_request, dots):
    dots.control(f"payout-requests/{created_request.dots_id}/approve")
    response = client.post(URL, data=_event(created_request), content_type="application/json")
    _assert_refused_and_nothing_changed(response, created_request, "missing svix-id")
    assert WebhookDelivery.objects.get().msg_id is None


def test_a_signed_body_that_is_not_json_is_refused(deliver, created_request, settings):
    response = deliver(b"payout_request.updated please", secret=settings.DOTS_WEBHOOK_SECRET)
    _assert_refused_and_nothing_changed(response, created_request, "not JSON")


def test_a_signed_body_that_is_not_utf8_is_refused(deliver, created_request, settings):
    response = deliver(b'{"event": "\xff\xfe"}', secret=settings.DOTS_WEBHOOK_SECRET)
    _assert_refused_and_nothing_changed(response, created_request, "not UTF-8")


def test_a_replayed_svix_id_is_refused_and_changes_nothing(deliver, created_request, dots, settings):
    secret = settings.DOTS_WEBHOOK_SECRET
    first = deliver(_event(created_request), secret=secret, msg_id="msg_replayed")
    assert first.status_code == 200
    dots.control(f"payout-requests/{created_request.dots_id}/approve")

    replay = deliver(_event(created_request), secret=secret, msg_id="msg_replayed")

    assert replay.status_code == 400
    refused = WebhookDelivery.objects.get(outcome="refused")
    assert refused.msg_id == "msg_replayed" and "replay" in refused.refusal_reason
    assert WebhookDelivery.objects.filter(outcome="accepted").count() == 1
    created_request.refresh_from_db()
    assert created_request.status == "created"


def test_a_forged_delivery_carrying_a_real_id_does_not_block_the_genuine_one(deliver, created_request, dots, settings):
    dots.control(f"payout-requests/{created_request.dots_id}/approve")
    forged = deliver(_event(created_request), secret="whsec_Zm9yZ2VkLXNlY3JldA==", msg_id="msg_real")
    genuine = deliver(_event(created_request), secret=settings.DOTS_WEBHOOK_SECRET, msg_id="msg_real")

    assert (forged.status_code, genuine.status_code) == (400, 200)
    created_request.refresh_from_db()
    assert created_request.status == "approved"


def test_without_a_webhook_secret_deliveries_are_answered_503_and_never_accepted(
    deliver, created_request, dots, settings, caplog
):
    secret = settings.DOTS_WEBHOOK_SECRET
    dots.control(f"payout-requests/{created_request.dots_id}/approve")
    settings.DOTS_WEBHOOK_SECRET = ""

    response = deliver(_event(created_request), secret=secret)

    assert response.status_code == 503
    assert "DOTS_WEBHOOK_SECRET is not set" in caplog.text
    assert not WebhookDelivery.objects.filter(outcome="accepted").exists()
    created_request.refresh_from_db()
    assert created_request.status == "created"


def test_only_post_is_answered(client, db):
    assert client.get(URL).status_code == 405


def test_an_event_type_we_do_not_handle_is_accepted_and_recorded_as_ignored(deliver, db, dots, settings):
    body = _body({"event": "app.updated", "app_id": "anything"})
    response = deliver(body, secret=settings.DOTS_WEBHOOK_SECRET)

    assert response.status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert (delivery.outcome, delivery.processing) == ("accepted", "ignored")
    assert "not handled" in delivery.note


def test_processing_a_delivery_twice_changes_and_audits_once(deliver, created_request, dots, settings):
    from payouts.tasks import webhook_delivery_process

    dots.control(f"payout-requests/{created_request.dots_id}/approve")
    deliver(_event(created_request), secret=settings.DOTS_WEBHOOK_SECRET)
    delivery = WebhookDelivery.objects.get()

    webhook_delivery_process(delivery.pk)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(processing="queued")  # as if the task ran again
    webhook_delivery_process(delivery.pk)

    created_request.refresh_from_db()
    assert created_request.status == "approved"
    assert _webhook_audit_events().filter(action="payout_request.status_changed").count() == 1


def test_dots_unreachable_while_processing_is_stored_on_the_delivery(deliver, created_request, dots, settings):
    dots.add_fault(method="GET", path="/v2/payout-requests/*", kind="status", status=503, count=20)
    response = deliver(_event(created_request), secret=settings.DOTS_WEBHOOK_SECRET)

    assert response.status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert delivery.processing == "failed" and delivery.processing_error
    created_request.refresh_from_db()
    assert created_request.status == "created"


def test_a_transfer_webhook_mirrors_the_transfer_read_from_dots(deliver, dots, settings, operator):
    from payouts.models import Transfer

    payee = payees.payee_create(
        first_name="Ann", last_name="Lee", email="ann@example.com", phone=phone(), actor=operator
    )
    link = payout_links.payout_link_request(amount_cents=900, payee_id=payee.pk, actor=operator, push=False)
    link = payout_links.payout_link_push(payout_link_id=link.pk, actor=operator)
    claimed = dots.control(f"payout-links/{link.dots_id}/advance", {"status": "claimed"})
    transfer_id = (
        claimed.get("transfer_id")
        or requests.get(f"{dots.base_url}/v2/payout-links/{link.dots_id}", auth=dots.auth, timeout=10).json()[
            "transfer_id"
        ]
    )
    body = _body({"event": "transfer.updated", "transfer_id": transfer_id})

    response = deliver(body, secret=settings.DOTS_WEBHOOK_SECRET)

    assert response.status_code == 200
    transfer = Transfer.objects.get(dots_id=transfer_id)
    assert (transfer.payout_link_dots_id, transfer.amount_cents) == (link.dots_id, 900)
    link.refresh_from_db()
    assert link.status == "claimed"  # the link's own state was read back too
    assert WebhookDelivery.objects.get().processing == "processed"


def test_nul_bytes_in_a_refused_delivery_are_answered_400_not_500(deliver, db, dots, settings):
    body = _body({"event": "payout_request.updated\u0000", "payout_request_id": "x\u0000y"})
    response = deliver(body, secret="whsec_Zm9yZ2VkLXNlY3JldA==", msg_id="msg_\x00nul")

    assert response.status_code == 400
    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == "refused" and delivery.payload["payout_request_id"] == "xy"


def test_a_user_webhook_refreshes_the_payee_from_dots(deliver, dots, settings, operator):
    payee = payees.payee_create(
        first_name="Ann", last_name="Lee", email="ann@example.com", phone=phone(), actor=operator
    )
    dots.control(f"users/{payee.dots_user_id}/wallet/credit", {"amount": 2500})
    body = _body({"event": "user.updated", "user_id": payee.dots_user_id, "metadata": {}})

    response = deliver(body, secret=settings.DOTS_WEBHOOK_SECRET)

    assert response.status_code == 200
    payee.refresh_from_db()
    assert payee.wallet_cents == 2500
    assert _webhook_audit_events().filter(action="payee.refreshed", object_id=str(payee.pk)).count() == 1


def test_a_payout_link_webhook_shows_the_link_claimed(deliver, dots, settings, operator):
    link = payout_links.payout_link_request(amount_cents=900, actor=operator, push=False)
    link = payout_links.payout_link_push(payout_link_id=link.pk, actor=operator)
    claimed = dots.control(f"payout-links/{link.dots_id}/advance", {"status": "claimed"})
    body = _body({"event": "payout_link.claimed", **claimed})

    response = deliver(body, secret=settings.DOTS_WEBHOOK_SECRET)

    assert response.status_code == 200
    link.refresh_from_db()
    assert link.status == "claimed"
    event = _webhook_audit_events().get(action="payout_link.status_changed", object_id=str(link.pk))
    assert event.actor_label == "system"


def test_a_webhook_for_an_object_we_do_not_know_is_processed_and_says_so(deliver, db, dots, settings):
    body = _body({"event": "payout_request.updated", "payout_request_id": str(uuid.uuid4())})

    response = deliver(body, secret=settings.DOTS_WEBHOOK_SECRET)

    assert response.status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert delivery.processing == "processed" and "no local payout request" in delivery.note


def test_a_manager_sees_refused_deliveries_and_their_reason_filtered_by_outcome(deliver, client, db, dots, settings):
    from core import roles
    from tests.support import login_verified, make_user

    deliver(_body({"event": "app.updated", "app_id": "a"}), secret=settings.DOTS_WEBHOOK_SECRET, msg_id="msg_genuine")
    deliver(_body({"event": "app.updated", "app_id": "b"}), secret="whsec_Zm9yZ2VkLXNlY3JldA==", msg_id="msg_forged")
    login_verified(client, make_user("manager", role=roles.MANAGER))

    page = client.get("/admin/payouts/webhookdelivery/", {"outcome__exact": "refused"}).content.decode()

    assert "msg_forged" in page and "webhook signature does not match" in page
    assert "msg_genuine" not in page


@pytest.mark.django_db(transaction=True)
def test_the_same_delivery_arriving_eight_times_at_once_is_accepted_exactly_once(
    dots, live_server, monkeypatch, settings
):
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    body = _body({"event": "app.updated", "app_id": "a"})
    headers = sign(secret=settings.DOTS_WEBHOOK_SECRET, msg_id="msg_racing", timestamp=int(time.time()), body=body)
    headers["content-type"] = "application/json"
    barrier = Barrier(8)

    def post(_):
        barrier.wait()
        return requests.post(live_server.url + URL, data=body, headers=headers, timeout=30).status_code

    with ThreadPoolExecutor(8) as pool:
        codes = sorted(pool.map(post, range(8)))

    assert codes == [200] + [400] * 7
    assert WebhookDelivery.objects.filter(msg_id="msg_racing", outcome="accepted").count() == 1
    assert WebhookDelivery.objects.filter(msg_id="msg_racing", outcome="refused").count() == 7


def test_a_body_over_the_upload_limit_is_answered_413_in_json_and_recorded_by_size_only(client, db, settings):
    size = settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1
    body = b'{"event": "payout_request.updated", "pad": "' + b"x" * (size - 46) + b'"}'
    assert len(body) == size
    response = client.post(URL, data=body, content_type="application/json", headers={"svix-id": "msg_big"})

    assert response.status_code == 413 and response["Content-Type"] == "application/json"
    assert "over the" in response.json()["error"]
    delivery = WebhookDelivery.objects.get()
    assert (delivery.outcome, delivery.msg_id, delivery.body_bytes) == ("refused", "msg_big", size)
    assert delivery.payload is None and delivery.event_type == "" and "x" * 20 not in delivery.refusal_reason


def test_refused_deliveries_past_the_hourly_count_are_answered_not_stored_and_logged(
    deliver, db, dots, settings, caplog
):
    settings.DOTS_WEBHOOK_REFUSED_PER_HOUR = 3
    forged = "whsec_Zm9yZ2VkLXNlY3JldA=="
    answers = [
        deliver(_body({"event": "user.updated", "user_id": str(i)}), secret=forged).status_code for i in range(5)
    ]

    assert answers == [400] * 5
    assert WebhookDelivery.objects.filter(outcome="refused").count() == 3
    assert caplog.text.count("not stored (over the hourly bound") == 2


def test_refused_deliveries_past_the_hourly_bytes_are_not_stored(deliver, db, dots, settings):
    body = _body({"event": "user.updated", "user_id": "u1", "pad": "x" * 100})
    settings.DOTS_WEBHOOK_REFUSED_BYTES_PER_HOUR = len(body) * 2 + 10
    forged = "whsec_Zm9yZ2VkLXNlY3JldA=="
    answers = [deliver(body, secret=forged).status_code for _ in range(4)]

    assert answers == [400] * 4
    assert list(WebhookDelivery.objects.values_list("body_bytes", flat=True)) == [len(body)] * 2


def test_accepted_deliveries_are_stored_past_the_refused_bound(deliver, db, dots, settings):
    settings.DOTS_WEBHOOK_REFUSED_PER_HOUR = 0
    response = deliver(_body({"event": "something.else"}), secret=settings.DOTS_WEBHOOK_SECRET)
    assert response.status_code == 200
    assert WebhookDelivery.objects.get().outcome == "accepted"
