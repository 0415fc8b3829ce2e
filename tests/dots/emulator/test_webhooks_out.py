"""Outgoing webhooks: delivered to a local receiver, Svix-signed, retried after failures."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from svix.webhooks import Webhook

from dots.webhooks import verify


class Receiver:
    """A tiny HTTP server in a thread that records deliveries and can fail the first N."""

    def __init__(self) -> None:
        self.deliveries: list[dict] = []
        self.fail_next = 0
        self.on_delivery = None  # optional fn(payload) run before answering, e.g. a fetch-back
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.on_delivery is not None:
                    receiver.on_delivery(json.loads(body))
                with receiver._lock:
                    failing = receiver.fail_next > 0
                    if failing:
                        receiver.fail_next -= 1
                    receiver.deliveries.append(
                        {
                            "headers": {k.lower(): v for k, v in self.headers.items()},
                            "body": body,
                            "answered": 500 if failing else 204,
                        }
                    )
                self.send_response(500 if failing else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/dots"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def events(self, *, answered=204) -> list[dict]:
        with self._lock:
            return [json.loads(d["body"]) for d in self.deliveries if d["answered"] == answered]

    def wait_for(self, count: int, *, timeout: float = 3.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.deliveries) < count and time.monotonic() < deadline:
            time.sleep(0.02)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(emulator):
    receiver = Receiver()
    # a long first retry delay, so only a flush retries inside a test
    emulator.control(
        "webhooks/config", {"url": receiver.url, "secret": emulator.webhook_secret, "retry_delays": [30, 60]}
    )
    yield receiver
    receiver.close()


def withdraw(session, emulator):
    return session.post(f"/v2/apps/{emulator.app_id}/withdraw", json={"amount": 1000}).json()


def test_transfer_creation_is_delivered_as_transfer_updated(emulator, openapi_session, receiver):
    transfer = withdraw(openapi_session, emulator)
    emulator.control("webhooks/flush")
    assert {"event": "transfer.updated", "transfer_id": transfer["id"], "metadata": None} in receiver.events()


def test_delivery_happens_in_the_background_without_a_flush(emulator, openapi_session, receiver):
    withdraw(openapi_session, emulator)
    receiver.wait_for(1)
    assert receiver.events()[0]["event"] == "transfer.updated"


def test_delivery_signature_verifies_with_our_verifier_and_svix(emulator, openapi_session, receiver):
    withdraw(openapi_session, emulator)
    emulator.control("webhooks/flush")
    receiver.wait_for(1)
    delivery = receiver.deliveries[0]
    verified = verify(delivery["body"], delivery["headers"], secret=emulator.webhook_secret)
    assert verified.payload["event"] == "transfer.updated"
    Webhook(emulator.webhook_secret).verify(delivery["body"], delivery["headers"])  # raises if it does not verify


def test_completed_transfer_is_delivered_with_the_transfer(emulator, openapi_session, receiver):
    transfer = withdraw(openapi_session, emulator)
    emulator.control(f"transfers/{transfer['id']}/advance", {"status": "completed"})
    emulator.control("webhooks/flush")
    completed = [e for e in receiver.events() if e["event"] == "transfer.completed"]
    assert completed[0]["transfer"]["status"] == "completed"


def test_failed_delivery_is_retried_with_the_same_message_id(emulator, openapi_session, receiver):
    receiver.fail_next = 1
    withdraw(openapi_session, emulator)
    receiver.wait_for(1)  # the background attempt, answered 500
    outcomes = emulator.control("webhooks/flush")["data"]
    assert [o["status"] for o in outcomes] == ["delivered"]
    first, second = receiver.deliveries[:2]
    assert first["answered"] == 500 and second["answered"] == 204
    assert first["headers"]["svix-id"] == second["headers"]["svix-id"]


def test_event_failing_every_attempt_ends_failed(emulator, openapi_session, receiver):
    emulator.control("webhooks/config", {"url": receiver.url, "retry_delays": [30]})
    receiver.fail_next = 5
    withdraw(openapi_session, emulator)
    receiver.wait_for(1)
    outcomes = emulator.control("webhooks/flush")["data"]
    assert [o["status"] for o in outcomes] == ["failed"]
    assert emulator.control_get("webhooks")["data"][0]["attempts"] == 2


def test_rolled_back_request_sends_no_webhook(emulator, openapi_session, receiver):
    response = openapi_session.post(f"/v2/apps/{emulator.app_id}/withdraw", json={"amount": 999_999_999})
    assert response.status_code == 400
    assert emulator.control("webhooks/flush")["data"] == []
    assert emulator.control_get("webhooks")["data"] == []


def test_without_a_url_events_are_kept_but_not_sent(emulator, openapi_session):
    withdraw(openapi_session, emulator)
    [event] = emulator.control_get("webhooks")["data"]
    assert event["status"] == "no_endpoint"


def test_receiver_may_fetch_the_object_back_while_a_flush_delivers(emulator, openapi_session, receiver):
    fetched = []
    session = requests.Session()
    session.auth = emulator.auth
    receiver.on_delivery = lambda payload: fetched.append(
        session.get(f"{emulator.base_url}/v2/transfers/{payload['transfer_id']}", timeout=2).status_code
    )
    withdraw(openapi_session, emulator)
    outcomes = emulator.control("webhooks/flush")["data"]
    receiver.wait_for(1)
    assert fetched == [200]
    assert all(o["status"] == "delivered" for o in outcomes)
