"""Payout requests: create/list/retrieve; approval (creates a payout link) and rejection by control only."""

import uuid

import requests

PAYEE = {"country_code": "1", "phone_number": "4155550177"}


def raw_control(emulator, path):
    """A control call whose refusal the test looks at (emulator.control raises on non-2xx)."""
    return requests.post(f"{emulator.root}/_emulator/{path}", json={}, timeout=5)


def create_request(session, **overrides):
    response = session.post("/v2/payout-requests", json={"amount": 4200, "payee": PAYEE, **overrides})
    assert response.status_code == 201, response.text
    return response.json()


def test_create_request_answers_201_created_without_a_link(emulator, openapi_session):
    request = create_request(openapi_session, memo="March invoice")
    assert request["status"] == "created" and request["amount"] == 4200
    assert "payout-link" not in request and request["memo"] == "March invoice"


def test_create_request_without_payee_or_user_is_refused(emulator, openapi_session):
    response = openapi_session.post("/v2/payout-requests", json={"amount": 100})
    assert response.status_code == 400
    assert response.json() == {"error": "user_id or payee is required", "error_code": "invalid-input"}


def test_create_request_with_zero_amount_is_refused(emulator, openapi_session):
    response = openapi_session.post("/v2/payout-requests", json={"amount": 0, "payee": PAYEE})
    assert response.status_code == 400
    assert response.json()["error"] == "amount must be at least 1"


def test_create_request_for_a_user_shows_the_user(emulator, openapi_session):
    user = openapi_session.post(
        "/v2/users",
        json={"first_name": "A", "last_name": "B", "email": "a@example.com", "country_code": "1",
              "phone_number": "4155550188"},
    ).json()  # fmt: skip
    request = create_request(openapi_session, payee=None, user_id=user["id"])
    assert request["user"]["id"] == user["id"]
    assert request["payee"] == {"country_code": "1", "phone_number": "4155550188"}


def test_list_requests_is_enveloped(emulator, openapi_session):
    request = create_request(openapi_session)
    page = openapi_session.get("/v2/payout-requests").json()
    assert [r["id"] for r in page["data"]] == [request["id"]] and page["has_more"] is False


def test_retrieve_unknown_request_is_404(emulator, openapi_session):
    assert openapi_session.get(f"/v2/payout-requests/{uuid.uuid4()}").status_code == 404


def test_approve_attaches_a_sent_payout_link_under_the_hyphenated_key(emulator, openapi_session):
    request = create_request(openapi_session)
    emulator.control(f"payout-requests/{request['id']}/approve")
    approved = openapi_session.get(f"/v2/payout-requests/{request['id']}").json()
    assert approved["status"] == "approved"
    link = approved["payout-link"]
    assert link["status"] == "sent" and link["amount"] == 4200
    assert openapi_session.get(f"/v2/payout-links/{link['id']}").json()["id"] == link["id"]


def test_approved_request_shows_the_current_state_of_its_link(emulator, openapi_session):
    request = create_request(openapi_session)
    link_id = emulator.control(f"payout-requests/{request['id']}/approve")["payout-link"]["id"]
    emulator.control(f"payout-links/{link_id}/advance", {"status": "claimed"})
    shown = openapi_session.get(f"/v2/payout-requests/{request['id']}").json()
    assert shown["payout-link"]["status"] == "claimed"


def test_reject_leaves_no_link(emulator, openapi_session):
    request = create_request(openapi_session)
    emulator.control(f"payout-requests/{request['id']}/reject", {"reason": "duplicate"})
    rejected = openapi_session.get(f"/v2/payout-requests/{request['id']}").json()
    assert rejected["status"] == "rejected" and "payout-link" not in rejected
    assert openapi_session.get("/v2/payout-links").json()["data"] == []


def test_approving_a_rejected_request_is_an_invalid_transition(emulator, openapi_session):
    request = create_request(openapi_session)
    emulator.control(f"payout-requests/{request['id']}/reject")
    response = raw_control(emulator, f"payout-requests/{request['id']}/approve")
    assert response.status_code == 400
    assert response.json()["error_code"] == "invalid-state-transition"


def test_approval_without_funds_is_refused_and_the_request_stays_created(emulator, openapi_session):
    request = create_request(openapi_session, amount=10_000_001)
    response = raw_control(emulator, f"payout-requests/{request['id']}/approve")
    assert response.status_code == 400
    assert response.json()["error_code"] == "transaction-insufficient-funds"
    assert openapi_session.get(f"/v2/payout-requests/{request['id']}").json()["status"] == "created"


def test_decisions_emit_payout_request_updated(emulator, openapi_session):
    request = create_request(openapi_session)
    emulator.control(f"payout-requests/{request['id']}/approve")
    events = emulator.control_get("webhooks")["data"]
    updated = [e for e in events if e["type"] == "payout_request.updated"]
    assert [e["payload"] for e in updated] == [{"event": "payout_request.updated", "payout_request_id": request["id"]}]


def test_request_lifecycle_immediate_approves_on_create(emulator, openapi_session):
    emulator.settings(payout_request={"mode": "immediate", "outcome": "approved"})
    request = create_request(openapi_session)
    assert request["status"] == "approved" and request["payout-link"]["status"] == "sent"


def test_request_lifecycle_immediate_without_funds_leaves_the_request_created(emulator, openapi_session):
    emulator.settings(payout_request={"mode": "immediate", "outcome": "approved"})
    request = create_request(openapi_session, amount=10_000_001)
    assert request["status"] == "created" and "payout-link" not in request
