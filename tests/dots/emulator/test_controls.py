"""The /_emulator controls: reset, settings, clock, seeding, state page, control errors."""

import uuid
from datetime import UTC, datetime, timedelta

import requests


def post(emulator, path, json=None):
    return requests.post(f"{emulator.root}/_emulator/{path}", json=json if json is not None else {})


def test_reset_forgets_documents_and_refunds_the_default_wallet(emulator, openapi_session):
    openapi_session.post(f"/v2/apps/{emulator.app_id}/withdraw", json={"amount": 5000})
    emulator.reset()
    assert openapi_session.get("/v2/transfers").json()["data"] == []
    assert openapi_session.get(f"/v2/apps/{emulator.app_id}").json()["metrics"]["wallet_balance"] == "100000.00"


def test_reset_keeps_the_default_app_id(emulator):
    before = emulator.app_id
    assert emulator.reset()["app_id"] == before


def test_settings_default_to_manual(emulator):
    assert emulator.control_get("settings")["transfer"]["mode"] == "manual"


def test_settings_for_an_unknown_kind_are_refused(emulator):
    response = post(emulator, "settings", {"invoice": {"mode": "immediate"}})
    assert response.status_code == 400
    assert response.json()["error_code"] == "invalid-input"


def test_settings_with_an_unknown_mode_are_refused(emulator):
    response = post(emulator, "settings", {"transfer": {"mode": "sometimes"}})
    assert response.status_code == 400
    assert "mode" in response.json()["error"]


def test_clock_offset_moves_created_timestamps(emulator, openapi_session):
    emulator.control("clock", {"offset_seconds": 86400 * 10})
    transfer = openapi_session.post(f"/v2/apps/{emulator.app_id}/deposit", json={"amount": 100})
    created = datetime.fromisoformat(transfer.json()["created"].replace("Z", "+00:00"))
    assert created > datetime.now(UTC) + timedelta(days=9)


def test_seed_approvers_gives_increasing_integer_ids(emulator):
    seeded = emulator.seed_approvers(
        [{"first_name": "Ann", "last_name": "A", "role": "admin"}, {"first_name": "Bob", "last_name": "B"}]
    )
    assert [type(u["id"]) for u in seeded] == [int, int]
    assert seeded[1]["id"] == seeded[0]["id"] + 1 and seeded[1]["role"] == "ap_approver"


def test_seed_approvers_with_an_unknown_role_is_refused(emulator):
    response = post(emulator, "seed/approvers", {"approvers": [{"first_name": "X", "role": "owner"}]})
    assert response.status_code == 400


def test_state_page_shows_apps_and_balances(emulator):
    page = requests.get(f"{emulator.root}/_emulator/")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert emulator.app_id in page.text and "100000.00" in page.text


def test_unknown_control_is_404_with_the_envelope(emulator):
    response = post(emulator, "no-such-control")
    assert response.status_code == 404
    assert response.json()["error_code"] == "not-found"


def test_advancing_an_unknown_transfer_is_404(emulator):
    response = post(emulator, f"transfers/{uuid.uuid4()}/advance", {"status": "completed"})
    assert response.status_code == 404


def test_payment_control_on_a_payable_not_being_paid_is_refused(emulator, openapi_session):
    users = emulator.seed_approvers()
    payable = openapi_session.post(
        "/v2/accounts-payable/payables", json={"acting_user_id": users[0]["id"], "number": "N1"}
    ).json()
    response = post(emulator, f"payables/{payable['id']}/payment", {"status": "payment_completed"})
    assert response.status_code == 400
    assert response.json()["error_code"] == "invalid-state-transition"


def test_faults_list_shows_what_fired(emulator, openapi_session):
    emulator.add_fault(method="GET", path="/v2/apps", kind="status", status=500, count=3)
    openapi_session.get("/v2/apps")
    [fault] = emulator.control_get("faults")["data"]
    assert (fault["fired"], fault["remaining"]) == (1, 2)


def test_fault_with_an_unknown_kind_is_refused(emulator):
    response = post(emulator, "faults", {"kind": "explode"})
    assert response.status_code == 400
