"""Webhook verification: the happy path, svix interoperability, and one test per failure."""

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from svix.webhooks import Webhook
from svix.webhooks import WebhookVerificationError as SvixVerificationError

from dots.errors import WebhookVerificationError
from dots.webhooks import ReplayGuard, VerifiedWebhook, sign, verify

SECRET = "whsec_" + base64.b64encode(b"ledgerline-test-webhook-secret").decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"someone-else-entirely").decode()
NOW = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)
BODY = json.dumps({"type": "transfer.updated", "data": {"id": "tr_1"}}).encode()


def signed(body=BODY, *, secret=SECRET, at=NOW, msg_id="msg_2abc"):
    return sign(secret=secret, msg_id=msg_id, timestamp=int(at.timestamp()), body=body)


def test_valid_signature_returns_id_timestamp_and_payload():
    result = verify(BODY, signed(), secret=SECRET, now=NOW)
    assert result == VerifiedWebhook(
        msg_id="msg_2abc", timestamp=NOW, payload={"type": "transfer.updated", "data": {"id": "tr_1"}}
    )


def test_sign_produces_the_three_svix_headers():
    headers = signed()
    assert set(headers) == {"svix-id", "svix-timestamp", "svix-signature"}
    assert headers["svix-timestamp"] == str(int(NOW.timestamp()))
    assert headers["svix-signature"].startswith("v1,")


def test_svix_library_accepts_what_we_sign():
    # svix checks the timestamp against the real clock (5 minutes either way): sign "now".
    headers = signed(at=datetime.now(UTC))
    # svix 2.9's verify returns None when the signature holds and raises when it does not.
    assert Webhook(SECRET).verify(BODY, headers) is None

    # ...and it is a real check of what we produced: any alteration is refused.
    with pytest.raises(SvixVerificationError):
        Webhook(SECRET).verify(BODY.replace(b"tr_1", b"tr_2"), headers)
    digest = bytearray(base64.b64decode(headers["svix-signature"].removeprefix("v1,")))
    digest[0] ^= 0x01  # one bit of our own signature
    with pytest.raises(SvixVerificationError):
        Webhook(SECRET).verify(BODY, {**headers, "svix-signature": "v1," + base64.b64encode(digest).decode()})
    with pytest.raises(SvixVerificationError):
        Webhook(SECRET).verify(BODY, {**headers, "svix-id": "msg_other"})
    with pytest.raises(SvixVerificationError):
        Webhook(OTHER_SECRET).verify(BODY, headers)


def test_we_accept_what_the_svix_library_signs():
    msg_id, at = "msg_from_svix", datetime.now(UTC).replace(microsecond=0)
    signature = Webhook(SECRET).sign(msg_id, at, BODY.decode())
    headers = {"svix-id": msg_id, "svix-timestamp": str(int(at.timestamp())), "svix-signature": signature}
    assert verify(BODY, headers, secret=SECRET).payload["data"]["id"] == "tr_1"


def test_headers_are_matched_case_insensitively():
    headers = {k.upper(): v for k, v in signed().items()}
    assert verify(BODY, headers, secret=SECRET, now=NOW).msg_id == "msg_2abc"


def test_django_meta_style_headers_are_accepted():
    meta = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in signed().items()}
    assert verify(BODY, meta, secret=SECRET, now=NOW).msg_id == "msg_2abc"


def test_one_matching_signature_among_several_is_enough():
    headers = signed()
    headers["svix-signature"] = "v1," + base64.b64encode(b"x" * 32).decode() + " " + headers["svix-signature"]
    assert verify(BODY, headers, secret=SECRET, now=NOW).msg_id == "msg_2abc"


def test_forged_signature_is_refused():
    headers = signed()
    headers["svix-signature"] = "v1," + base64.b64encode(b"\x00" * 32).decode()
    with pytest.raises(WebhookVerificationError, match="does not match"):
        verify(BODY, headers, secret=SECRET, now=NOW)


def test_tampered_body_is_refused():
    with pytest.raises(WebhookVerificationError, match="does not match"):
        verify(BODY.replace(b"tr_1", b"tr_2"), signed(), secret=SECRET, now=NOW)


def test_wrong_secret_is_refused():
    with pytest.raises(WebhookVerificationError, match="does not match"):
        verify(BODY, signed(secret=OTHER_SECRET), secret=SECRET, now=NOW)


def test_stale_timestamp_over_five_minutes_is_refused():
    headers = signed(at=NOW - timedelta(minutes=5, seconds=1))
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify(BODY, headers, secret=SECRET, now=NOW)


def test_timestamp_just_inside_five_minutes_is_accepted():
    headers = signed(at=NOW - timedelta(minutes=4, seconds=59))
    assert verify(BODY, headers, secret=SECRET, now=NOW).msg_id == "msg_2abc"


def test_future_timestamp_is_refused():
    headers = signed(at=NOW + timedelta(minutes=5, seconds=1))
    with pytest.raises(WebhookVerificationError, match="future"):
        verify(BODY, headers, secret=SECRET, now=NOW)


@pytest.mark.parametrize("missing", ["svix-id", "svix-timestamp", "svix-signature"])
def test_missing_header_is_refused(missing):
    headers = signed()
    del headers[missing]
    with pytest.raises(WebhookVerificationError, match=f"missing {missing}"):
        verify(BODY, headers, secret=SECRET, now=NOW)


@pytest.mark.parametrize("value", ["v1garbage", "v1,", "v1,not base64!!", ","])
def test_malformed_signature_header_is_refused(value):
    headers = signed()
    headers["svix-signature"] = value
    with pytest.raises(WebhookVerificationError):
        verify(BODY, headers, secret=SECRET, now=NOW)


def test_non_integer_timestamp_is_refused():
    headers = signed()
    headers["svix-timestamp"] = "yesterday"
    with pytest.raises(WebhookVerificationError, match="not an integer"):
        verify(BODY, headers, secret=SECRET, now=NOW)


def test_non_utf8_body_is_refused_even_when_correctly_signed():
    body = b'{"id": "\xff\xfe"}'
    with pytest.raises(WebhookVerificationError, match="UTF-8"):
        verify(body, signed(body), secret=SECRET, now=NOW)


def test_signed_body_that_is_not_json_is_refused():
    body = b"not json"
    with pytest.raises(WebhookVerificationError, match="JSON"):
        verify(body, signed(body), secret=SECRET, now=NOW)


def test_round_trip_keeps_the_message_id_for_replay_checks():
    first = verify(BODY, signed(msg_id="msg_a"), secret=SECRET, now=NOW)
    second = verify(BODY, signed(msg_id="msg_b"), secret=SECRET, now=NOW)
    assert (first.msg_id, second.msg_id) == ("msg_a", "msg_b")
    assert first.payload == second.payload


def test_replayed_delivery_is_refused():
    guard = ReplayGuard()
    guard.accept(verify(BODY, signed(msg_id="msg_once"), secret=SECRET, now=NOW), now=NOW)
    replay = verify(BODY, signed(msg_id="msg_once"), secret=SECRET, now=NOW + timedelta(seconds=30))
    with pytest.raises(WebhookVerificationError, match="replay"):
        guard.accept(replay, now=NOW + timedelta(seconds=30))


def test_distinct_deliveries_are_all_accepted():
    guard = ReplayGuard()
    for n in range(3):
        guard.accept(verify(BODY, signed(msg_id=f"msg_{n}"), secret=SECRET, now=NOW), now=NOW)
    assert len(guard) == 3


def test_replay_after_the_window_is_refused_as_stale_and_the_id_is_forgotten():
    guard = ReplayGuard()
    guard.accept(verify(BODY, signed(msg_id="msg_old"), secret=SECRET, now=NOW), now=NOW)
    later = NOW + timedelta(minutes=6)
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify(BODY, signed(msg_id="msg_old"), secret=SECRET, now=later)
    guard.accept(verify(BODY, signed(msg_id="msg_new", at=later), secret=SECRET, now=later), now=later)
    assert len(guard) == 1
