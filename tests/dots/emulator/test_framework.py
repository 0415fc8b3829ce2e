"""The emulator framework: auth, routing errors, idempotency, faults, request log, persistence."""

import threading
import time
import uuid

import pytest
import requests

from tests.fixtures_emulator import start_emulator, stop_emulator


def withdraw_body(amount=1000, key=None):
    body = {"amount": amount}
    if key is not None:
        body["idempotency_key"] = key
    return body


def transfers(session):
    return session.get("/v2/transfers", params={"limit": 100}).json()["data"]


def wallet(session, emulator):
    return session.get(f"/v2/apps/{emulator.app_id}").json()["metrics"]["wallet_balance"]


# -- auth and routing ----------------------------------------------------------------------------------------


def test_request_without_credentials_is_401_with_the_envelope(emulator):
    response = requests.get(f"{emulator.base_url}/v2/apps")
    assert response.status_code == 401
    assert response.json()["error_code"] == "unauthorized"


def test_request_with_a_wrong_api_key_is_401(emulator):
    response = requests.get(f"{emulator.base_url}/v2/apps", auth=(emulator.client_id, "wrong"))
    assert response.status_code == 401


def test_unknown_route_is_404_with_the_envelope(emulator, openapi_session):
    response = openapi_session.get("/v2/no-such-thing")
    assert response.status_code == 404
    assert set(response.json()) == {"error", "error_code"}
    assert response.json()["error_code"] == "not-found"


def test_wrong_method_is_405_with_the_envelope(emulator, openapi_session):
    response = openapi_session.delete("/v2/apps")
    assert response.status_code == 405
    assert response.json()["error_code"] == "method-not-allowed"


def test_body_that_is_not_a_json_object_is_400(emulator, openapi_session):
    response = openapi_session.post("/v2/apps", data="[1, 2]", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error_code"] == "invalid-input"


def test_every_answer_carries_a_request_id_the_log_shows(emulator, openapi_session):
    response = openapi_session.get(f"/v2/apps/{emulator.app_id}")
    request_id = response.headers["X-Request-Id"]
    assert emulator.received("GET")[0]["request_id"] == request_id


def test_api_app_id_header_selects_the_app(emulator, openapi_session):
    other = emulator.control("seed/apps", {"name": "Other", "balance": 5000})["data"][0]
    openapi_session.post(
        f"/v2/apps/{other['id']}/withdraw", json=withdraw_body(1000), headers={"Api-App-Id": other["id"]}
    )
    assert openapi_session.get("/v2/transfers", headers={"Api-App-Id": other["id"]}).json()["data"]
    assert transfers(openapi_session) == []


def test_unknown_api_app_id_is_401(emulator, openapi_session):
    response = openapi_session.get("/v2/transfers", headers={"Api-App-Id": str(uuid.uuid4())})
    assert response.status_code == 401


def test_ping_answers_ok(emulator):
    assert requests.get(f"{emulator.root}/_emulator/ping").json() == {"ok": True}


# -- idempotency ------------------------------------------------------------------------------------------------


def test_repeated_idempotency_key_replays_the_first_response(emulator, openapi_session):
    key = str(uuid.uuid4())
    first = openapi_session.post(f"/v2/apps/{emulator.app_id}/withdraw", json=withdraw_body(1000, key))
    second = openapi_session.post(f"/v2/apps/{emulator.app_id}/withdraw", json=withdraw_body(1000, key))
    assert second.json() == first.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert len(transfers(openapi_session)) == 1 and wallet(openapi_session, emulator) == "99990.00"


def test_repeated_key_with_a_different_body_still_replays_the_first(emulator, openapi_session):
    key = str(uuid.uuid4())
    first = openapi_session.post(f"/v2/apps/{emulator.app_id}/withdraw", json=withdraw_body(1000, key)).json()
    second = openapi_session.post(f"/v2/apps/{emulator.app_id}/withdraw", json=withdraw_body(9999, key)).json()
    assert second == first and second["amount"] == 1000


def test_idempotency_key_expires_after_24_hours(emulator, openapi_session):
    key = str(uuid.uuid4())
    first = openapi_session.post(f"/v2/apps/{emulator.app_id}/withdraw", json=withdraw_body(1000, key)).json()
    emulator.control("clock", {"advance_seconds": 24 * 3600 + 1})
    second = openapi_session.post(f"/v2/apps/{emulator.app_id}/withdraw", json=withdraw_body(1000, key)).json()
    assert second["id"] != first["id"]


def test_refused_request_is_not_remembered_under_its_key(emulator, openapi_session):
    key = str(uuid.uuid4())
    refused = openapi_session.post(f"/v2/apps/{emulator.app_id}/withdraw", json=withdraw_body(20_000_000, key))
    assert refused.status_code == 400
    accepted = openapi_session.post(f"/v2/apps/{emulator.app_id}/withdraw", json=withdraw_body(1000, key))
    assert accepted.status_code == 200


# -- faults ---------------------------------------------------------------------------------------------------------


def test_status_fault_answers_the_status_and_does_no_work(emulator, openapi_session):
    emulator.add_fault(method="POST", path="/v2/apps/*/withdraw", kind="status", status=503, count=1)
    response = openapi_session.post(f"/v2/apps/{emulator.app_id}/withdraw", json=withdraw_body())
    assert response.status_code == 503
    assert response.json()["error_code"] == "service-unavailable"
    assert transfers(openapi_session) == []


def test_insufficient_funds_fault_answers_400_with_its_code(emulator, openapi_session):
    emulator.add_fault(method="POST", path="/v2/apps/*/withdraw", kind="insufficient_funds", count=1)
    response = openapi_session.post(f"/v2/apps/{emulator.app_id}/withdraw", json=withdraw_body())
    assert response.status_code == 400
    assert response.json()["error_code"] == "transaction-insufficient-funds"
    assert transfers(openapi_session) == []


def test_latency_fault_delays_then_answers(emulator, openapi_session):
    emulator.add_fault(method="GET", path="/v2/apps/*", kind="latency", ms=150, count=1)
    started = time.monotonic()
    response = openapi_session.get(f"/v2/apps/{emulator.app_id}")
    assert response.status_code == 200 and time.monotonic() - started >= 0.15


def test_timeout_fault_does_the_work_after_the_client_gave_up(emulator, openapi_session):
    emulator.add_fault(method="POST", path="/v2/apps/*/withdraw", kind="timeout", ms=400, count=1)
    with pytest.raises(requests.ReadTimeout):
        openapi_session.post(f"/v2/apps/{emulator.app_id}/withdraw", json=withdraw_body(), timeout=0.1)
    deadline = time.monotonic() + 3
    while not transfers(openapi_session) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(transfers(openapi_session)) == 1


def test_drop_fault_commits_the_work_and_closes_the_connection(emulator, openapi_session):
    emulator.add_fault(method="POST", path="/v2/apps/*/withdraw", kind="drop", count=1)
    with pytest.raises(requests.ConnectionError):
        openapi_session.post(f"/v2/apps/{emulator.app_id}/withdraw", json=withdraw_body())
    assert len(transfers(openapi_session)) == 1
    assert emulator.received("POST")[0]["dropped"] is True


def test_fault_with_a_count_fires_that_many_times_then_stops(emulator, openapi_session):
    emulator.add_fault(method="GET", path="/v2/apps", kind="status", status=500, count=2)
    statuses = [openapi_session.get("/v2/apps").status_code for _ in range(3)]
    assert statuses == [500, 500, 200]


def test_fault_with_a_rate_fires_on_a_seeded_fraction(emulator, openapi_session):
    def run():
        emulator.control("faults/clear")
        emulator.add_fault(method="GET", path="/v2/apps", kind="status", status=502, rate=0.5, seed=7)
        return [openapi_session.get("/v2/apps").status_code for _ in range(20)]

    first = run()
    assert 0 < first.count(502) < 20
    assert run() == first


def test_faults_clear_removes_every_fault(emulator, openapi_session):
    emulator.add_fault(method="GET", path="/v2/apps", kind="status", status=500)
    emulator.control("faults/clear")
    assert openapi_session.get("/v2/apps").status_code == 200


# -- request log and persistence ----------------------------------------------------------------------------------


def test_request_log_masks_account_numbers(emulator, openapi_session):
    openapi_session.put(
        f"/v2/apps/{emulator.app_id}/ach-account",
        json={"account_number": "555566667777", "routing_number": "021000021", "account_type": "checking"},
    )
    [entry] = emulator.received("PUT", "/v2/apps/*/ach-account")
    assert "555566667777" not in str(entry)
    assert entry["body"]["account_number"].endswith("7777")


def test_request_log_is_newest_first_and_filters_by_method(emulator, openapi_session):
    openapi_session.get("/v2/apps")
    openapi_session.post("/v2/apps", json={"name": "Logged"})
    openapi_session.get(f"/v2/apps/{emulator.app_id}")
    assert [e["path"] for e in emulator.received("GET")] == [f"/api/v2/apps/{emulator.app_id}", "/api/v2/apps"]


def test_restart_keeps_state(tmp_path):
    data = tmp_path / "emulator.sqlite3"
    first = start_emulator(data)
    try:
        created = requests.post(f"{first.base_url}/v2/apps", json={"name": "Survivor"}, auth=first.auth).json()
    finally:
        stop_emulator(first)
    second = start_emulator(data)
    try:
        fetched = requests.get(f"{second.base_url}/v2/apps/{created['id']}", auth=second.auth)
        assert fetched.status_code == 200 and fetched.json()["name"] == "Survivor"
    finally:
        stop_emulator(second)


def test_a_sleeping_fault_does_not_hold_up_other_requests(emulator, openapi_session):
    emulator.add_fault(method="GET", path="/v2/apps", kind="latency", ms=800, count=1)
    slow = threading.Thread(target=lambda: openapi_session.get("/v2/apps"))
    slow.start()
    time.sleep(0.05)  # let the slow request reach its sleep
    started = time.monotonic()
    assert openapi_session.get(f"/v2/apps/{emulator.app_id}").status_code == 200
    assert time.monotonic() - started < 0.5
    slow.join()
