"""Issue #17: rotating Dots' webhook secret and Dots' API key without refusing anything in between.

The webhook secret: DOTS_WEBHOOK_SECRET is the new secret and DOTS_WEBHOOK_SECRET_PREVIOUS the old
one while Dots may still sign with it; afterwards the old one is refused. The API key is ours to
send: Dots accepts the old and the new for a while (the emulator's /_emulator/api-keys plays it),
we deploy the new one, then Dots drops the old one.
"""

from __future__ import annotations

import base64
import json
import time
import uuid

import pytest
from django.db import connections

from core import dots_gateway
from dots.client import DotsClient
from dots.errors import DotsAuthError
from dots.webhooks import WebhookVerificationError, sign, verify
from payouts.models import WebhookDelivery

URL = "/webhooks/dots/"
OLD_SECRET = "whsec_" + base64.b64encode(b"the secret Dots signed with until today").decode()
NEW_SECRET = "whsec_" + base64.b64encode(b"the secret Dots signs with from today on").decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"a secret nobody gave us").decode()
NEW_API_KEY = "dots-emulator-rotated-key"


def _signed(secret: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"event": "rotation.check", "id": uuid.uuid4().hex}).encode()
    return body, sign(secret=secret, msg_id="msg_" + uuid.uuid4().hex, timestamp=int(time.time()), body=body)


# --- the check itself (dots/webhooks.py, no Django) -------------------------------------------------


@pytest.mark.parametrize("signed_with", [OLD_SECRET, NEW_SECRET])
def test_verify_accepts_a_delivery_signed_with_either_secret_of_a_rotation(signed_with):
    body, headers = _signed(signed_with)
    assert verify(body, headers, secret=[NEW_SECRET, OLD_SECRET]).payload == json.loads(body)


def test_verify_refuses_a_delivery_signed_with_neither_secret_of_a_rotation():
    body, headers = _signed(OTHER_SECRET)
    with pytest.raises(WebhookVerificationError, match="signature does not match"):
        verify(body, headers, secret=[NEW_SECRET, OLD_SECRET])


def test_verify_refuses_the_old_secret_once_only_the_new_one_is_given():
    body, headers = _signed(OLD_SECRET)
    with pytest.raises(WebhookVerificationError, match="signature does not match"):
        verify(body, headers, secret=NEW_SECRET)


def test_verify_with_no_secret_at_all_is_a_configuration_error_not_a_bad_delivery():
    body, headers = _signed(NEW_SECRET)
    with pytest.raises(ValueError, match="no webhook secret"):
        verify(body, headers, secret=[])


# --- the receiver at /webhooks/dots/ ----------------------------------------------------------------


def _post(client, secret: str):
    body, headers = _signed(secret)
    return client.post(URL, data=body, content_type="application/json", headers=headers)


@pytest.mark.django_db
def test_during_a_webhook_secret_rotation_deliveries_signed_with_the_old_and_the_new_secret_are_accepted(
    client, settings
):
    settings.DOTS_WEBHOOK_SECRET = NEW_SECRET
    settings.DOTS_WEBHOOK_SECRET_PREVIOUS = OLD_SECRET

    old = _post(client, OLD_SECRET)
    new = _post(client, NEW_SECRET)
    stranger = _post(client, OTHER_SECRET)

    assert (old.status_code, new.status_code, stranger.status_code) == (200, 200, 400)
    assert WebhookDelivery.objects.filter(outcome="accepted").count() == 2
    assert "signature does not match" in WebhookDelivery.objects.get(outcome="refused").refusal_reason


@pytest.mark.django_db
def test_after_a_webhook_secret_rotation_the_old_secret_is_refused_and_the_new_one_accepted(client, settings):
    settings.DOTS_WEBHOOK_SECRET = NEW_SECRET
    settings.DOTS_WEBHOOK_SECRET_PREVIOUS = ""

    old = _post(client, OLD_SECRET)
    new = _post(client, NEW_SECRET)

    assert (old.status_code, new.status_code) == (400, 200)
    refused = WebhookDelivery.objects.get(outcome="refused")
    assert "signature does not match" in refused.refusal_reason


@pytest.mark.django_db
def test_a_previous_secret_alone_accepts_nothing(client, settings):
    settings.DOTS_WEBHOOK_SECRET = ""
    settings.DOTS_WEBHOOK_SECRET_PREVIOUS = OLD_SECRET

    response = _post(client, OLD_SECRET)

    assert response.status_code == 503
    assert not WebhookDelivery.objects.filter(outcome="accepted").exists()


# --- the API key, against the emulator ----------------------------------------------------------------


def _client_with(dots, api_key: str) -> DotsClient:
    return DotsClient(dots.base_url, dots.client_id, api_key, timeout=5)


def test_rotating_the_dots_api_key_the_app_keeps_working_and_the_old_key_is_refused_after(dots, settings):
    old_key = dots.api_key
    assert dots_gateway.client().list_apps(limit=1)

    # 1. Dots issues a second key; both work while web nodes and workers are redeployed one by one.
    dots.control("api-keys", {"api_keys": [old_key, NEW_API_KEY]})
    assert dots_gateway.client().list_apps(limit=1)  # a node not redeployed yet
    settings.DOTS_API_KEY = NEW_API_KEY  # a node redeployed with the new key
    assert dots_gateway.client().list_apps(limit=1)

    # 2. Every node runs the new key: Dots drops the old one.
    dots.control("api-keys", {"api_keys": [NEW_API_KEY]})
    assert dots_gateway.client().list_apps(limit=1)
    with pytest.raises(DotsAuthError):
        _client_with(dots, old_key).list_apps(limit=1)


def test_the_emulator_accepts_only_its_own_key_again_after_a_reset(dots):
    dots.control("api-keys", {"api_keys": [NEW_API_KEY]})
    with pytest.raises(DotsAuthError):
        _client_with(dots, dots.api_key).list_apps(limit=1)

    dots.reset()

    assert _client_with(dots, dots.api_key).list_apps(limit=1)
    with pytest.raises(DotsAuthError):
        _client_with(dots, NEW_API_KEY).list_apps(limit=1)


def test_the_emulator_refuses_an_empty_list_of_api_keys(dots):
    with pytest.raises(AssertionError, match="api_keys must be a non-empty list"):
        dots.control("api-keys", {"api_keys": []})
    assert _client_with(dots, dots.api_key).list_apps(limit=1)


# --- the whole rotation, with the emulator sending real deliveries to a live server -------------------


@pytest.mark.django_db(transaction=True)
def test_webhooks_from_dots_keep_arriving_through_a_secret_rotation(dots, live_server, settings, monkeypatch):
    # The emulator keeps its connection alive: close the live server thread's database session after each request.
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    settings.DOTS_WEBHOOK_SECRET, settings.DOTS_WEBHOOK_SECRET_PREVIOUS = OLD_SECRET, ""
    sender = _client_with(dots, dots.api_key)

    def dots_signs_with(secret: str) -> None:
        dots.control("webhooks/config", {"url": live_server.url + URL, "secret": secret, "retry_delays": [60] * 5})

    def dots_sends() -> dict:
        """An event (a new app), sent now; its state in the emulator once the attempt is over."""
        sender.create_app(name=f"Rotation {uuid.uuid4().hex[:6]}")
        return _deliver_pending(dots)[-1]

    # 1. Dots starts signing with the new secret before our web nodes know it: refused, kept to send again.
    dots_signs_with(NEW_SECRET)
    early = dots_sends()
    assert (early["status"], early["last_status"]) == ("pending", 400)

    # 2. The web nodes get the new secret and keep the old one: Dots' next attempt, and anything signed
    #    with either secret, is accepted.
    settings.DOTS_WEBHOOK_SECRET, settings.DOTS_WEBHOOK_SECRET_PREVIOUS = NEW_SECRET, OLD_SECRET
    retried = next(event for event in _deliver_pending(dots) if event["id"] == early["id"])
    assert retried["status"] == "delivered"
    assert dots_sends()["status"] == "delivered"
    dots_signs_with(OLD_SECRET)  # a delivery signed before Dots switched, arriving late
    assert dots_sends()["status"] == "delivered"

    # 3. The rotation is over: the old secret is refused, the new one accepted.
    settings.DOTS_WEBHOOK_SECRET_PREVIOUS = ""
    late = dots_sends()
    assert (late["status"], late["last_status"]) == ("pending", 400)
    dots_signs_with(NEW_SECRET)
    assert dots_sends()["status"] == "delivered"
    # Dots' next attempt at the late one is signed with the new secret: every event arrives once in the end.
    assert all(event["status"] == "delivered" for event in _deliver_pending(dots))
    accepted = WebhookDelivery.objects.filter(outcome="accepted")
    assert accepted.count() == accepted.values("msg_id").distinct().count() == 5
    refused = WebhookDelivery.objects.filter(outcome="refused")
    assert refused.count() >= 2 and all("signature does not match" in r.refusal_reason for r in refused)


def _deliver_pending(dots) -> list[dict]:
    """Every pending delivery attempted now (waiting for one the emulator's own thread has under way);
    then the emulator's events, oldest first."""
    dots.control("webhooks/flush")
    return list(reversed(dots.control_get("webhooks", {"limit": 50})["data"]))
